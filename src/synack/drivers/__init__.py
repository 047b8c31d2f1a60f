"""synack.drivers"""
