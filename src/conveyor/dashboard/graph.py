"""The pipeline as a graph, built from the live resources: every service's links (conveyor.links), the
queues, the worker pools and the functions. Nodes are placed in columns by how far data travels to
reach them (bucket -> topic -> queue -> DLQ...), which the page draws left to right."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from conveyor.links import CONSUMER, NOTIFICATION, OUTPUT, REDRIVE, Link

# The built-in mover's default destination prefix (conveyor.runtime.mover).
MOVER_DEST = "processed/"


@dataclass
class Node:
    id: str
    kind: str  # bucket, topic, queue, dlq, function, pool, alarm, output
    name: str
    column: int = 0
    row: int = 0

    def doc(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "name": self.name, "column": self.column, "row": self.row}


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Link] = field(default_factory=list)

    def doc(self) -> dict[str, Any]:
        return {"nodes": [n.doc() for n in self.nodes.values()],
                "edges": [{"source": e.source, "target": e.target, "kind": e.kind, "label": e.label}
                          for e in self.edges]}

    def watched_keys(self) -> dict[str, list[tuple[str, str]]]:
        """bucket name -> the (prefix, suffix) key filters of its notifications: the uploads to follow."""
        out: dict[str, list[tuple[str, str]]] = {}
        for e in self.edges:
            if e.kind == NOTIFICATION:
                prefix, _, suffix = e.label.partition("*")
                out.setdefault(e.source.removeprefix("arn:aws:s3:::"), []).append((prefix, suffix))
        return out


def kind_of(arn: str) -> str:
    if arn.startswith("pool:"):
        return "pool"
    parts = arn.split(":")
    service = parts[2] if len(parts) > 2 else ""
    if service == "s3":
        return "output" if "/" in arn else "bucket"
    if service == "lambda":
        return "function"
    if service == "cloudwatch":
        return "alarm"
    return {"sns": "topic", "sqs": "queue"}.get(service, "other")


def short_name(arn: str) -> str:
    if arn.startswith("pool:"):
        return arn[5:]
    if arn.startswith("arn:aws:s3:::"):
        return arn[len("arn:aws:s3:::"):]
    return arn.rsplit(":", 1)[-1] if ":function:" not in arn else arn.split(":function:", 1)[1].split(":")[0]


def queue_arn_of(reference: str, queues: Sequence[Mapping[str, Any]], region: str) -> str | None:
    """The ARN of the queue a pool names by URL (`.../queue/REGION/ACCOUNT/NAME` or `.../ACCOUNT/NAME`),
    ARN or name."""
    if reference.startswith("arn:"):
        return reference
    parts = [unquote(p) for p in reference.rstrip("/").split("/")]
    name = parts[-1]
    if "/queue/" in reference and len(parts) >= 3:
        region = parts[-3]
    for q in queues:
        if q["name"] == name and q["region"] == region:
            return str(q["arn"])
    return None


def build(links: Iterable[Link], queues: Sequence[Mapping[str, Any]], pools: Mapping[str, Mapping[str, Any]],
          functions: Sequence[Mapping[str, Any]], default_region: str) -> Graph:
    graph = Graph()
    for q in queues:
        graph.nodes[q["arn"]] = Node(q["arn"], "dlq" if q.get("dlq") else "queue", q["name"])
    for f in functions:
        arn = f.get("arn") or ""
        if arn:
            graph.nodes[arn] = Node(arn, "function", f["name"])
    edges = list(links)
    for name, pool in pools.items():
        node = f"pool:{name}"
        graph.nodes[node] = Node(node, "pool", name)
        spec = pool.get("spec") or {}
        queue = queue_arn_of(spec.get("queue") or "", queues, pool.get("region") or default_region) \
            if spec.get("queue") else None
        if queue is not None:
            edges.append(Link(queue, node, CONSUMER, ""))
    edges += _outputs(edges, pools)
    for e in edges:
        for end in (e.source, e.target):
            if end not in graph.nodes:
                graph.nodes[end] = Node(end, kind_of(end), short_name(end))
    for e in edges:
        if e.kind == REDRIVE and e.target in graph.nodes:
            graph.nodes[e.target].kind = "dlq"
    graph.edges = edges
    _place(graph)
    return graph


def _outputs(edges: list[Link], pools: Mapping[str, Mapping[str, Any]]) -> list[Link]:
    """Where each pool running the built-in mover (or naming DEST_PREFIX) writes: the destination prefix
    in every bucket whose events reach its queue."""
    upstream: dict[str, set[str]] = {}
    for e in edges:
        upstream.setdefault(e.target, set()).add(e.source)
    out = []
    for name, pool in pools.items():
        spec = pool.get("spec") or {}
        env = spec.get("env") or {}
        command = spec.get("command") or []
        is_mover = command == ["mover"] or command == "mover" or "conveyor.runtime.mover" in " ".join(command)
        dest = env.get("DEST_PREFIX") or (MOVER_DEST if is_mover else None)
        if not dest:
            continue
        for bucket in sorted(_reaching(f"pool:{name}", upstream)):
            out.append(Link(f"pool:{name}", f"{bucket}/{dest}", OUTPUT, ""))
    return out


def _reaching(node: str, upstream: Mapping[str, set[str]]) -> set[str]:
    """The buckets whose events flow to `node`."""
    seen, stack, buckets = {node}, [node], set()
    while stack:
        for source in upstream.get(stack.pop(), ()):
            if source in seen:
                continue
            seen.add(source)
            if source.startswith("arn:aws:s3:::") and "/" not in source:
                buckets.add(source)
            stack.append(source)
    return buckets


_ORDER = {"bucket": 0, "topic": 1, "queue": 2, "dlq": 3, "pool": 4, "function": 5, "alarm": 6, "output": 7}


def _place(graph: Graph) -> None:
    """Columns: the longest path from where data enters (nodes nothing flows into, buckets first), along
    the links that do not close a cycle (an alarm notifying a topic upstream of its queue points back);
    rows: by kind and name within a column."""
    nodes = graph.nodes
    targets: dict[str, list[str]] = {}
    has_source: set[str] = set()
    for e in graph.edges:
        if e.source in nodes and e.target in nodes:
            targets.setdefault(e.source, []).append(e.target)
            has_source.add(e.target)
    by_kind = sorted(nodes.values(), key=lambda n: (_ORDER.get(n.kind, 9), n.name))
    starts = [n.id for n in by_kind if n.id not in has_source] + [n.id for n in by_kind]
    finished: list[str] = []
    forward: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done
    for start in starts:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(targets.get(start, [])))]
        while stack:
            node, rest = stack[-1]
            target = next(rest, None)
            if target is None:
                stack.pop()
                state[node] = 2
                finished.append(node)
            elif target not in state:
                forward.add((node, target))
                state[target] = 1
                stack.append((target, iter(targets.get(target, []))))
            elif state[target] == 2:
                forward.add((node, target))  # a cross link, not a cycle
    for node_id in reversed(finished):  # a topological order of the links kept
        for target in targets.get(node_id, []):
            if (node_id, target) in forward:
                nodes[target].column = max(nodes[target].column, nodes[node_id].column + 1)
    rows: dict[int, int] = {}
    for placed in sorted(nodes.values(), key=lambda n: (n.column, _ORDER.get(n.kind, 9), n.name)):
        placed.row = rows.get(placed.column, 0)
        rows[placed.column] = placed.row + 1
