"""synack.sim"""
