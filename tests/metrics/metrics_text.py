"""Reading Prometheus' text exposition format and the exporter's naming
rule for the dataplane's counter list (the same rule as
controlplane/metrics_collector.cc's metric_name_for_counter)."""
import re

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset(labels)): value} of every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            continue
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def names(text):
    """Every sample name (histograms: NAME_bucket, NAME_sum, NAME_count)."""
    return {name for name, _ in parse(text)}


def counter_series(counter):
    """(metric name, labels, divisor or None) of a counter of the list."""
    if counter.startswith("drop_"):
        return "sluice_packets_dropped_total", frozenset({("reason", counter[5:])}), None
    if counter.startswith("not_"):
        return "sluice_packets_ignored_total", frozenset({("reason", counter)}), None
    if counter.endswith("_cycles"):
        return "sluice_" + counter[:-7] + "_seconds_total", frozenset(), "tsc"
    return "sluice_" + counter + "_total", frozenset(), None


def dashboard_metric_names(dashboard):
    """Metric names in every query of a Grafana dashboard's panels."""
    found = set()
    for panel in dashboard.get("panels", []):
        for target in panel.get("targets", []):
            found |= set(re.findall(r"\bsluice_[a-z0-9_]+", target.get("expr", "")))
    for var in dashboard.get("templating", {}).get("list", []):
        q = var.get("query", "")
        if isinstance(q, str):
            found |= set(re.findall(r"\bsluice_[a-z0-9_]+", q))
    return found
