"""envs/scene3d"""
