"""Template mining with Drain3, masked by the project's own rules, with a bytes round trip.

Template ids are Drain3 cluster ids as strings. Drain3 never merges clusters: when a cluster's
template generalises (a token becomes ``<*>``) its id stays, so documents enriched early keep
pointing at the same group as later ones. A hash of the template text would change each time
the template generalises. The price: ids are only meaningful within one Drain state, which is
why the enricher keeps a single shared state (in Redis) rather than one per worker.

`to_bytes()` / `from_bytes()` carry the whole state (tree, clusters, counters) plus the
configuration it was built with, so a loaded parser continues exactly where the saved one was.
Between two such snapshots, `take_changes()` / `apply_changes()` carry only what learning
changed: a template created (its id and the tokens it was created with, which fix its place in
Drain's prefix tree) or generalised (its id and its new tokens). Replaying a parser's changes, in
order, on a copy of its earlier state gives the same tree and templates (cluster sizes aside,
which decide nothing), so a copy kept up to date this way assigns the same ids as the original.
drain3 stores its state with jsonpickle, which can build arbitrary objects: load only state this
project wrote (our Redis), never bytes from an untrusted source.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.persistence_handler import PersistenceHandler
from drain3.template_miner_config import TemplateMinerConfig

from colog.core.parsing.masking import drain_masking_instructions

_FORMAT_TAG = "colog-drain/1"


class TemplateStateError(ValueError):
    """Saved template state that cannot be loaded (corrupt, foreign or another version)."""


CREATED, GENERALISED = "new", "set"


def encode_change(change: tuple[str, int, tuple[str, ...]]) -> bytes:
    kind, cluster_id, tokens = change
    return json.dumps({"op": kind, "id": cluster_id, "tokens": list(tokens)},
                      separators=(",", ":")).encode("utf-8")


def decode_change(raw: bytes) -> tuple[str, int, tuple[str, ...]]:
    try:
        entry = json.loads(raw)
        kind, cluster_id, tokens = entry["op"], entry["id"], entry["tokens"]
    except (ValueError, TypeError, KeyError) as exc:
        raise TemplateStateError(f"not a template change: {exc}") from exc
    if kind not in (CREATED, GENERALISED) or not isinstance(cluster_id, int) or cluster_id < 1 \
            or not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise TemplateStateError(f"not a template change: {raw[:80]!r}")
    return kind, cluster_id, tuple(tokens)


@dataclass(frozen=True)
class DrainConfig:
    # One setting for every log (no per-log tuning), chosen by a sweep of sim_th 0.4-0.9 x
    # depth 4-6 with benchmarks/parsing.py over the Loghub samples: 0.7/5 had the best mean
    # grouping accuracy (drain3's defaults 0.4/4 scored 0.75 against 0.83). See RESULTS.md.
    sim_th: float = 0.7
    depth: int = 5
    max_children: int = 100
    max_clusters: int | None = None  # None: keep every template (ids must stay valid)
    extra_delimiters: tuple[str, ...] = ()

    def miner_config(self) -> TemplateMinerConfig:
        config = TemplateMinerConfig()
        config.drain_sim_th = self.sim_th
        config.drain_depth = self.depth
        config.drain_max_children = self.max_children
        config.drain_max_clusters = self.max_clusters
        config.drain_extra_delimiters = list(self.extra_delimiters)
        config.masking_instructions = [MaskingInstruction(rule["regex_pattern"], rule["mask_with"])
                                       for rule in drain_masking_instructions()]
        config.snapshot_compress_state = False  # we compress the whole envelope ourselves
        config.profiling_enabled = False
        return config


class _Capture(PersistenceHandler):
    """Hands drain3's state snapshot to us instead of writing it anywhere."""

    def __init__(self, state: bytes | None = None):
        self.state = state

    def save_state(self, state: bytes) -> None:
        self.state = state

    def load_state(self) -> bytes | None:
        return self.state


class TemplateParser:
    def __init__(self, config: DrainConfig | None = None):
        self.config = config or DrainConfig()
        # No persistence handler while mining: drain3 would snapshot on every new template.
        self._miner = TemplateMiner(persistence_handler=None, config=self.config.miner_config())
        self._created: list[tuple[int, tuple[str, ...]]] = []  # since take_changes()
        self._generalised: set[int] = set()

    def add(self, message: str) -> tuple[str, str]:
        """Learn from `message`; its (template id, template text)."""
        result = self._miner.add_log_message(message)
        cluster_id = result["cluster_id"]
        if result["change_type"] == "cluster_created":
            self._created.append(
                (cluster_id, self._miner.drain.id_to_cluster[cluster_id].log_template_tokens))
        elif result["change_type"] == "cluster_template_changed":
            self._generalised.add(cluster_id)
        return str(cluster_id), result["template_mined"]

    def take_changes(self) -> list[tuple[str, int, tuple[str, ...]]]:
        """What learning changed since the last call, in the order `apply_changes` needs:
        templates created (with their creation tokens), then the current tokens of every
        template that generalised (one entry each, however often it changed)."""
        clusters = self._miner.drain.id_to_cluster
        changes = [(CREATED, cluster_id, tokens) for cluster_id, tokens in self._created]
        changes += [(GENERALISED, cluster_id, clusters[cluster_id].log_template_tokens)
                    for cluster_id in sorted(self._generalised)]
        self._created, self._generalised = [], set()
        return changes

    def apply_changes(self, changes) -> None:
        """Replay another parser's `take_changes()` on this copy of its earlier state."""
        from drain3.drain import LogCluster

        drain = self._miner.drain
        for kind, cluster_id, tokens in changes:
            if kind == CREATED:
                if cluster_id in drain.id_to_cluster:
                    raise TemplateStateError(f"template {cluster_id} created twice")
                cluster = LogCluster(list(tokens), cluster_id)
                drain.id_to_cluster[cluster_id] = cluster
                drain.add_seq_to_prefix_tree(drain.root_node, cluster)
                drain.clusters_counter = max(drain.clusters_counter, cluster_id)
            else:
                cluster = drain.id_to_cluster.get(cluster_id)
                if cluster is None:
                    raise TemplateStateError(f"template {cluster_id} changed before created")
                cluster.log_template_tokens = tuple(tokens)

    def match(self, message: str) -> tuple[str, str] | None:
        """The (id, text) of the known template `message` fits, without learning; else None."""
        cluster = self._miner.match(message, full_search_strategy="fallback")
        if cluster is None:
            return None
        return str(cluster.cluster_id), cluster.get_template()

    def templates(self) -> dict[str, str]:
        return {str(c.cluster_id): c.get_template() for c in self._miner.drain.clusters}

    def __len__(self) -> int:
        return len(self._miner.drain.clusters)

    @property
    def last_id(self) -> int:
        """The highest id given so far; the next new template gets the one after it."""
        return int(self._miner.drain.clusters_counter)

    @last_id.setter
    def last_id(self, value: int) -> None:
        """Start new ids above `value` (a state rebuilt after the old one was lost)."""
        self._miner.drain.clusters_counter = max(int(value), self.last_id)

    def to_bytes(self) -> bytes:
        capture = _Capture()
        self._miner.persistence_handler = capture
        try:
            self._miner.save_state("colog snapshot")
        finally:
            self._miner.persistence_handler = None
        envelope = {"format": _FORMAT_TAG, "config": asdict(self.config),
                    "drain": capture.state.decode("utf-8")}
        return zlib.compress(json.dumps(envelope).encode("utf-8"))

    @classmethod
    def from_bytes(cls, data: bytes) -> "TemplateParser":
        try:
            envelope = json.loads(zlib.decompress(data).decode("utf-8"))
        except (zlib.error, UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
            raise TemplateStateError(f"not a saved template state: {exc}") from exc
        if not isinstance(envelope, dict) or envelope.get("format") != _FORMAT_TAG:
            raise TemplateStateError(f"not a {_FORMAT_TAG} template state")
        config = envelope["config"]
        config["extra_delimiters"] = tuple(config.get("extra_delimiters", ()))
        parser = cls(DrainConfig(**config))
        miner = parser._miner
        miner.persistence_handler = _Capture(envelope["drain"].encode("utf-8"))
        try:
            miner.load_state()
        except Exception as exc:  # jsonpickle raises many types on a damaged payload
            raise TemplateStateError(f"damaged template state: {exc}") from exc
        finally:
            miner.persistence_handler = None
        return parser
