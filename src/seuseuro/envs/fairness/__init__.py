"""envs/fairness"""
