"""EpisodeBatch: complete episodes, flattened step by step."""
import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class EpisodeBatch:
    """A batch of whole episodes, steps of all episodes concatenated.

    ``terminals`` marks steps where the MDP ended (no bootstrapping);
    ``timeouts`` marks steps where the episode was cut short (truncated), so
    an algorithm can still bootstrap from ``last_observations``.
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminals: np.ndarray
    timeouts: np.ndarray
    last_observations: np.ndarray
    lengths: np.ndarray
    agent_infos: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_episode(cls, observations, actions, rewards, terminals, timeouts,
                     last_observation, agent_infos):
        """One episode from per-step lists."""
        infos = {k: np.asarray([info[k] for info in agent_infos])
                 for k in (agent_infos[0] if agent_infos else {})}
        return cls(observations=np.asarray(observations),
                   actions=np.asarray(actions),
                   rewards=np.asarray(rewards, dtype=np.float64),
                   terminals=np.asarray(terminals, dtype=bool),
                   timeouts=np.asarray(timeouts, dtype=bool),
                   last_observations=np.asarray([last_observation]),
                   lengths=np.asarray([len(rewards)], dtype=np.int64),
                   agent_infos=infos)

    @classmethod
    def concatenate(cls, *batches):
        """Join batches in order (worker order, then episode order)."""
        if not batches:
            raise ValueError('concatenate needs at least one EpisodeBatch')
        fields = [f.name for f in dataclasses.fields(cls) if f.name != 'agent_infos']
        joined = {name: np.concatenate([getattr(b, name) for b in batches])
                  for name in fields}
        keys = batches[0].agent_infos.keys()
        joined['agent_infos'] = {k: np.concatenate([b.agent_infos[k] for b in batches])
                                 for k in keys}
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

    def undiscounted_returns(self):
        """The sum of rewards of each episode."""
        return np.asarray([self.rewards[s].sum() for s in self.episode_slices()])
