"""`seuseuro envs`: the environments available, with observation and action spaces."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class EnvsArgs:
    """List the JAX-native environments (gymnax and seuseuro's own) and the registered Gymnasium ids."""

    gymnasium: bool = True
    """Also list Gymnasium ids (trained through the host bridge)."""
    filter: str = ""
    """Only ids containing this text (case-insensitive)."""
    spaces: bool = True
    """Show observation and action spaces (builds each environment once)."""


def _jax_rows(ids, filt, spaces):
    from seuseuro.envs.registry import NEEDS_DOWNLOAD, make, space_summary

    for env_id in ids:
        if filt and filt not in env_id.lower():
            continue
        if env_id in NEEDS_DOWNLOAD:
            yield env_id, f"(not offline: {NEEDS_DOWNLOAD[env_id]})", ""
            continue
        if not spaces:
            yield env_id, "", ""
            continue
        try:
            env = make(env_id)
            yield env_id, space_summary(env.observation_space), space_summary(env.action_space)
        except Exception as err:  # an env that cannot be built here still gets listed
            yield env_id, f"(unavailable: {type(err).__name__})", ""


def run_envs(args: EnvsArgs) -> int:
    import logging
    import warnings

    warnings.filterwarnings("ignore")  # Gymnasium warns about every outdated id it builds
    logging.getLogger("gymnasium").setLevel(logging.ERROR)
    from rich.console import Console
    from rich.table import Table

    from seuseuro.envs.registry import gymnasium_ids, gymnax_ids, own_ids

    filt = args.filter.lower()
    console = Console()
    table = Table(title="JAX-native environments (whole training loop compiled)")
    for col in ("id", "family", "observation", "action"):
        table.add_column(col)
    for family, ids in (("seuseuro", own_ids()), ("gymnax", gymnax_ids())):
        for env_id, obs, act in _jax_rows(ids, filt, args.spaces):
            table.add_row(env_id, family, obs, act)
    console.print(table)
    if args.gymnasium:
        table = Table(title="Gymnasium environments (host bridge; prefix gymnasium: where a JAX one has the same id)")
        for col in ("id", "observation", "action"):
            table.add_column(col)
        import gymnasium

        gymnasium.logger.min_level = gymnasium.logger.ERROR  # no warning per outdated id
        for env_id in gymnasium_ids():
            if filt and filt not in env_id.lower():
                continue
            obs = act = ""
            if args.spaces:
                try:
                    from seuseuro.envs.registry import space_summary

                    spec_env = gymnasium.make(env_id)
                    obs, act = space_summary(spec_env.observation_space), space_summary(spec_env.action_space)
                    spec_env.close()
                except Exception as err:  # missing extras (Box2D, Atari ROMs, ...) are shown, not fatal
                    obs = f"(needs extras: {type(err).__name__})"
            table.add_row(env_id, obs, act)
        console.print(table)
    return 0
