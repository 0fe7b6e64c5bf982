"""EpisodeBatch: complete episodes, flattened step by step."""
import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class EpisodeBatch:
    """A batch of whole episodes, steps of all episodes concatenated.

    ``terminals`` marks steps where the MDP ended (no bootstrapping);
    ``timeouts`` marks steps where the episode was cut short (truncated), so
    an algorithm can still bootstrap from ``last_observations``.
    ``agent_infos`` and ``env_infos`` hold, per key, one value per step: the
    keys the policy's (or environment's) info dicts had at every step.
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminals: np.ndarray
    timeouts: np.ndarray
    last_observations: np.ndarray
    lengths: np.ndarray
    agent_infos: dict = dataclasses.field(default_factory=dict)
    env_infos: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_episode(cls, observations, actions, rewards, terminals, timeouts,
                     last_observation, agent_infos, env_infos=()):
        """One episode from per-step lists (of values and of info dicts)."""
        return cls(observations=np.asarray(observations),
                   actions=np.asarray(actions),
                   rewards=np.asarray(rewards, dtype=np.float64),
                   terminals=np.asarray(terminals, dtype=bool),
                   timeouts=np.asarray(timeouts, dtype=bool),
                   last_observations=np.asarray([last_observation]),
                   lengths=np.asarray([len(rewards)], dtype=np.int64),
                   agent_infos=_stack_infos(agent_infos),
                   env_infos=_stack_infos(env_infos))

    @classmethod
    def concatenate(cls, *batches):
        """Join batches in order (worker order, then episode order)."""
        if not batches:
            raise ValueError('concatenate needs at least one EpisodeBatch')
        infos = ('agent_infos', 'env_infos')
        fields = [f.name for f in dataclasses.fields(cls) if f.name not in infos]
        joined = {name: np.concatenate([getattr(b, name) for b in batches])
                  for name in fields}
        for name in infos:
            dicts = [getattr(b, name) for b in batches]
            joined[name] = {k: np.concatenate([d[k] for d in dicts])
                            for k in _common_keys(dicts)}
        return cls(**joined)

    @property
    def n_episodes(self):
        return len(self.lengths)

    @property
    def n_steps(self):
        return int(self.lengths.sum())

    def episode_slices(self):
        """A ``slice`` into the step arrays for each episode, in order."""
        ends = np.cumsum(self.lengths)
        return [slice(int(e - n), int(e)) for e, n in zip(ends, self.lengths)]

    def to_list(self):
        """garage's list of path dicts, one per episode.

        Keys as garage 2020.06's ``TrajectoryBatch.to_trajectory_list``:
        ``observations``, ``next_observations``, ``actions``, ``rewards``,
        ``env_infos``, ``agent_infos`` and ``dones`` (``terminals``: the MDP
        ended there; a time-limit cut is not a done).
        """
        paths = []
        for i, s in enumerate(self.episode_slices()):
            observations = self.observations[s]
            paths.append({
                'observations': observations,
                'next_observations': np.concatenate(
                    [observations[1:], self.last_observations[i:i + 1]]),
                'actions': self.actions[s],
                'rewards': self.rewards[s],
                'env_infos': {k: v[s] for k, v in self.env_infos.items()},
                'agent_infos': {k: v[s] for k, v in self.agent_infos.items()},
                'dones': self.terminals[s],
            })
        return paths

    def undiscounted_returns(self):
        """The sum of rewards of each episode."""
        return np.asarray([self.rewards[s].sum() for s in self.episode_slices()])


def _common_keys(dicts):
    """Keys every dict has, in the first one's order."""
    return [k for k in (dicts[0] if dicts else {}) if all(k in d for d in dicts)]


def _stack_infos(infos):
    """Per-step info dicts -> one array per key that every step has."""
    infos = list(infos)
    stacked = {}
    for key in _common_keys(infos):
        values = [info[key] for info in infos]
        try:
            stacked[key] = np.asarray(values)
        except ValueError:  # ragged: keep the values as they are
            stacked[key] = np.empty(len(values), dtype=object)
            stacked[key][:] = values
    return stacked
