"""synack.scenarios"""
