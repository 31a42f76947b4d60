"""CLI commands of the RL core (train, eval, plot, envs); each is an Args dataclass + a run function."""
