"""synack.views"""
