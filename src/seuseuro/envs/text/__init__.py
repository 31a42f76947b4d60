"""envs/text"""
