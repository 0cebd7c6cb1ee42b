#!/usr/bin/env python3
"""Summarises `perf script -F comm,tid,ip,sym,dso` output of a parley profile: share of samples
by thread, by coarse category (first rule that matches any frame of the sample's stack), the
breakdown inside SurrealDB, and the top leaf functions. Stacks through SurrealDB's reblessive
stacks are often cut short, so categories match anywhere in the stack, not only at its root.

    categorize.py script.txt [N_LEAVES]
"""
import collections
import re
import sys

CATEGORIES = [
    ("search (tantivy)", r"tantivy|parley_search"),
    ("argon2", r"argon2|blake2"),
    ("SurrealQL parse", r"surrealdb_core::syn|surrealdb_syn|::parser::|Parser"),
    ("fsync/fdatasync", r"fdatasync|fsync|file_write_and_wait|jbd2|blkdev_issue_flush"),
    ("SurrealKV engine", r"surrealkv::|surrealdb_kvs"),
    ("SurrealDB execution", r"surrealdb|reblessive|revision::"),
    ("websocket (tungstenite/axum ws)", r"tungstenite|axum::extract::ws"),
    ("network syscalls (tcp)", r"tcp_|sock_|inet_|__sys_sendto|__sys_recvfrom|sendmsg|recvmsg|ksys_read|ksys_write"),
    ("serde_json", r"serde_json"),
    ("parley writer", r"parley_core::writer"),
    ("parley hub/live", r"parley_core::hub|parley_core::live"),
    ("parley server session", r"parley_server"),
    ("parley store", r"parley_store"),
    ("tokio scheduler/futex", r"tokio::runtime|futex|schedule|epoll"),
    ("malloc/free", r"malloc|free|realloc|_int_"),
]

# Inside SurrealDB (samples with any surreal/reblessive/revision frame).
SURREAL = [
    ("kv commit (memtable apply, WAL write)", r"Transactable>::commit|CommitEnv|commit_coordinator|Transactor::commit"),
    ("index maintenance", r"doc::index|IndexOperation|index::"),
    ("schema field processing", r"process_table_fields|doc::field|coerce|Kind"),
    ("record encode/store", r"store_record_data|kv_encode_value|serialize_revisioned"),
    ("record decode", r"deserialize_revisioned|kv_decode"),
    ("kv get/put/scan", r"Transactable>::(get|put|set|scan|keys|exists)|Transaction::get_with|skiplist|Transaction::write"),
    ("result conversion", r"convert_value_to_public|into_json|json"),
    ("expression/parameter evaluation", r"expr_compute|param_compute|idiom_compute|value_get|reblessive"),
    ("SurrealQL parse", r"syn::|parser"),
]


def read(path):
    samples, cur = [], None
    for line in open(path, errors="replace"):
        if not line.strip():
            if cur:
                samples.append(cur)
            cur = None
        elif not line[0].isspace():
            cur = {"comm": (line.split() or ["?"])[0], "frames": []}
        elif cur is not None:
            parts = line.strip().split(" ", 1)
            if len(parts) > 1:
                cur["frames"].append(parts[1])
    if cur:
        samples.append(cur)
    return samples


def first_match(rules, stack):
    for name, rx in rules:
        if re.search(rx, stack):
            return name
    return "other"


def main():
    samples = read(sys.argv[1])
    leaves = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    n = len(samples) or 1
    comm, cat, inner, leaf = (collections.Counter() for _ in range(4))
    for s in samples:
        stack = "\n".join(s["frames"])
        comm[s["comm"]] += 1
        cat[first_match(CATEGORIES, stack)] += 1
        if re.search(r"surreal|reblessive|revision", stack):
            inner[first_match(SURREAL, stack)] += 1
        if s["frames"]:
            leaf[re.sub(r"\(.*", "", s["frames"][0])[:100]] += 1
    print(f"samples: {len(samples)}")
    for title, counter, top in [
        ("by thread", comm, 8),
        ("by category", cat, None),
        ("inside SurrealDB (share of all samples)", inner, None),
        ("top leaf functions", leaf, leaves),
    ]:
        print(title + ":")
        for k, v in counter.most_common(top):
            print(f"  {v / n * 100:5.1f}%  {k}")


if __name__ == "__main__":
    main()
