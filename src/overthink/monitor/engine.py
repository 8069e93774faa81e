"""The monitor: ingest events and labels, keep per-segment statistics, raise alerts.

Ingest is a cheap append per event; every ``check_every`` events (and on ``check()``)
the buffered rows are turned into numpy arrays, the trackers are updated in one batch,
the tests are evaluated across segments with multiplicity correction (e-BH), and alert
transitions go through hysteresis. Memory is bounded: per-segment state is a few arrays,
buffers are flushed every check, and events waiting for a late label live in a bounded
map (oldest evicted and counted).
"""

from __future__ import annotations

import math
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from overthink.errors import ConfigError
from overthink.monitor.alerts import Alert, AlertSink, Hysteresis
from overthink.monitor.events import (
    MAX_LINE_BYTES,
    Label,
    LabelLine,
    MalformedInput,
    MonitorEvent,
    describe_json_error,
    parse_line,
)
from overthink.monitor.proxies import compute_proxies
from overthink.monitor.sequential import ebh
from overthink.monitor.trackers import CausalResult, CausalTracker, SlopeResult, SlopeTracker

__all__ = ["Monitor", "MonitorConfig", "SegmentSnapshot", "load_monitor_config"]

# Upper bounds (tokens) of the reasoning-token histogram buckets exported to Prometheus.
REASONING_BUCKETS: tuple[float, ...] = (
    *(float(2**k) for k in range(17)),
    math.inf,
)


class MonitorConfig(BaseModel):
    """Knobs of the monitor's statistics and alerting."""

    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(default=0.05, gt=0.0, lt=1.0)
    """Error level: false-alarm probability per segment under continuous peeking (causal),
    FDR level across segments (e-BH)."""
    high_tier: str = "high"
    """Budget tier treated as 'more thinking' in the causal contrast."""
    low_tier: str = "low"
    """Budget tier treated as 'less thinking'."""
    n_opt: float = Field(default=5000.0, gt=0)
    """Slice size at which the causal confidence sequence is tuned to be tightest."""
    min_n: int = Field(default=200, ge=2)
    """Labelled events a segment needs before its tests may alarm."""
    min_arm: int = Field(default=30, ge=1)
    """Labelled events per tier (high and low) before the causal test may alarm."""
    epoch_events: int | None = Field(default=None, ge=100)
    """Restart the causal confidence sequence every this many labelled slice events
    (α spent as α·6/(π²k²) over epochs k); None = one cumulative sequence."""
    phi: float = Field(default=1.0, gt=0)
    """Prior precision φ of the anytime-valid regression test (Lindon et al.)."""
    covariates: list[str] | None = None
    """Covariate names for the slope; default: those of the segment's first labelled event
    (at most ``max_covariates``, sorted). Missing values count as 0."""
    max_covariates: int = Field(default=8, ge=0)
    check_every: int = Field(default=1000, ge=1)
    """Evaluate a segment's tests every this many of its events/labels (``check()``
    evaluates every segment at once). Only the segment with new data pays for the update."""
    fire_after: int = Field(default=2, ge=1)
    """Consecutive alarming checks before an alert fires."""
    resolve_after: int = Field(default=5, ge=1)
    """Consecutive clear checks before a firing alert resolves."""
    multiplicity: str = Field(default="ebh", pattern="^(ebh|none)$")
    """``ebh``: e-BH across segments at level alpha; ``none``: each segment at alpha."""
    slope_alerts: bool = True
    """Alert on a significantly negative observational slope (labelled associational)."""
    change_window: int = Field(default=2000, ge=50)
    """Labelled events per window of the slope change detector."""
    change_threshold: float = Field(default=20.0, gt=0)
    """Page–Hinkley threshold on the windowed slope z-scores."""
    max_pending: int = Field(default=200_000, ge=0)
    """Events without quality kept waiting for a late label (oldest evicted first)."""


def load_monitor_config(
    path: Path | None, *, alpha: float | None = None, check_every: int | None = None
) -> MonitorConfig:
    """The monitor settings of a YAML/JSON file (``--config``), with command-line overrides.

    Bad input is a ``ConfigError`` naming the file and the field.
    """
    import yaml

    raw: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML/JSON ({exc})".splitlines()[0]) from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of monitor settings")
        raw = dict(loaded or {})
    if alpha is not None:
        raw["alpha"] = alpha
    if check_every is not None:
        raw["check_every"] = check_every
    try:
        return MonitorConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        source = f"{path}: " if path is not None else ""
        raise ConfigError(f"{source}{where}: {err['msg']}") from None


@dataclass
class _Segment:
    """Per-segment state and the rows buffered since the last check."""

    name: str
    causal: CausalTracker
    slope: SlopeTracker | None = None
    covariates: list[str] | None = None
    # buffered rows since last check
    c_quality: list[float] = field(default_factory=list)
    c_arm: list[float] = field(default_factory=list)
    c_prob: list[float] = field(default_factory=list)
    s_tokens: list[int] = field(default_factory=list)
    s_covariates: list[float] = field(default_factory=list)
    """Covariate values, flat (row-major: one run of len(covariates) per row)."""
    s_quality: list[float] = field(default_factory=list)
    reasoning: dict[str, list[int]] = field(default_factory=dict)
    hist: dict[str, np.ndarray] = field(default_factory=dict)
    hist_sum: dict[str, float] = field(default_factory=dict)
    truncated: int = 0
    labels: dict[str, int] = field(default_factory=dict)
    """Quality values received (inline or late) by model."""
    zeros: tuple[float, ...] = ()
    """Defaults for missing covariates (one 0.0 per covariate name)."""
    last_model: str = ""
    last_bucket: list[int] = field(default_factory=list)
    index: int = 0
    """Position of the segment (order of first appearance)."""
    since: int = 0
    """Events and labels added since this segment was last evaluated."""
    last_causal: CausalResult | None = None
    last_slope: SlopeResult | None = None


@dataclass(frozen=True)
class SegmentSnapshot:
    """What the exporter and the replay table show for one segment."""

    segment: str
    causal: CausalResult
    slope: SlopeResult | None
    causal_alarm: bool
    slope_alarm: bool
    truncated: int


@dataclass(frozen=True)
class _Pending:
    segment: str
    model: str
    arm: float
    prob: float
    random: bool
    tokens: int
    truncated: bool
    covariates: dict[str, float]


_Reading = dict[str, object]
"""One test's latest numbers as an alert reports them: ``Alert``'s estimate, lower, upper,
n, evidence and associational fields (validated when the alert is built)."""


class Monitor:
    """Sequential monitoring of reasoning length vs quality, per segment."""

    def __init__(self, config: MonitorConfig | None = None, sinks: Iterable[AlertSink] = ()):
        self.config = config or MonitorConfig()
        self.sinks = list(sinks)
        self.segments: dict[str, _Segment] = {}
        self.hysteresis = Hysteresis(self.config.fire_after, self.config.resolve_after)
        self.alerts: list[Alert] = []
        """Every alert transition so far, in order (the replay timeline)."""
        self.n_events = 0
        self.n_labels = 0
        self.n_checks = 0
        self.malformed: Counter[str] = Counter()
        """Skipped inputs by reason kind."""
        self.requests: dict[tuple[str, str, str], int] = {}
        """Requests by (model, segment, budget tier)."""
        self.unmatched_labels = 0
        self.last_skip_reason = ""
        self.n_malformed = 0
        self.evicted = 0
        self.last_ts = 0.0
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._high = self.config.high_tier
        self._low = self.config.low_tier
        self._log_e = np.zeros(0)
        self._log_bf = np.zeros(0)
        self._validate_json = MonitorEvent.__pydantic_validator__.validate_json
        self._validate_label = LabelLine.__pydantic_validator__.validate_json
        self._alarm_state: dict[tuple[str, str], bool] = {}

    # --- ingest ---------------------------------------------------------------------------

    def ingest_line(self, line: str | bytes) -> None:
        """Parse and ingest one JSONL line; malformed lines are counted and skipped."""
        if isinstance(line, bytes) and b'"kind"' not in line and len(line) <= MAX_LINE_BYTES:
            # Hot path for event lines: one validator call, no intermediate dict.
            try:
                event = self._validate_json(line)
            except ValidationError as exc:
                if line.strip():
                    self.skip(describe_json_error(exc))
                return
            seg = self._event(event)
            seg.since += 1
            if seg.since >= self.config.check_every:
                self._evaluate([seg])
            return
        if isinstance(line, bytes) and len(line) <= MAX_LINE_BYTES:
            try:
                label = self._validate_label(line)
            except ValidationError:
                pass  # not a well-formed label: the slow path below says why
            else:
                lseg = self._label(label)
                if lseg is not None:
                    lseg.since += 1
                    if lseg.since >= self.config.check_every:
                        self._evaluate([lseg])
                return
        if not line.strip():
            return
        try:
            item = parse_line(line)
        except MalformedInput as exc:
            self.skip(str(exc))
            return
        self.ingest(item)

    def skip(self, reason: str) -> None:
        """Count a malformed input (by the reason's first words)."""
        self.last_skip_reason = reason
        self.n_malformed += 1
        self.malformed[reason.split(":", 1)[0][:60]] += 1

    def ingest(self, item: MonitorEvent | Label) -> None:
        """Ingest one event or late label."""
        seg = self._label(item) if isinstance(item, Label) else self._event(item)
        if seg is not None:
            seg.since += 1
            if seg.since >= self.config.check_every:
                self._evaluate([seg])

    def ingest_many(self, items: Iterable[MonitorEvent | Label]) -> None:
        """Ingest several items."""
        for item in items:
            self.ingest(item)

    def _segment(self, name: str) -> _Segment:
        seg = self.segments.get(name)
        if seg is None:
            cfg = self.config
            tracker = CausalTracker(cfg.alpha, cfg.n_opt, cfg.min_n, cfg.min_arm, cfg.epoch_events)
            seg = _Segment(name, tracker)
            seg.index = len(self.segments)
            self.segments[name] = seg
        return seg

    def _event(self, ev: MonitorEvent) -> _Segment:
        # The hot path (one call per event): plain dict/list operations only, written out
        # inline; the maths (logs, regressions) happens per batch in numpy at a check.
        self.n_events += 1
        self.last_ts = ev.ts
        name = ev.segment
        model = ev.model
        seg = self.segments.get(name) or self._segment(name)
        tier = ev.budget_tier
        requests = self.requests
        key = (model, name, tier or "none")
        requests[key] = requests.get(key, 0) + 1
        tokens = ev.reasoning_tokens
        if model == seg.last_model:
            seg.last_bucket.append(tokens)
        else:
            self._bucket(seg, model).append(tokens)
        covariates = ev.covariates
        if ev.prompt is not None:
            covariates = {**compute_proxies(ev.prompt), **covariates}
        prob = ev.assignment_prob
        random = prob is not None and ev.assignment == "random"
        arm = (1.0 if tier == self._high else -1.0 if tier == self._low else 0.0) if random else 0.0
        truncated = ev.truncated or ev.finish_reason == "length"
        if truncated:
            seg.truncated += 1
        quality = ev.quality
        if quality is None:
            if self.config.max_pending:
                self._pending[ev.request_id] = _Pending(
                    name, model, arm, prob or 0.0, random, tokens, truncated, covariates
                )
                if len(self._pending) > self.config.max_pending:
                    self._pending.popitem(last=False)
                    self.evicted += 1
            return seg
        labels = seg.labels
        labels[model] = labels.get(model, 0) + 1
        if random:
            seg.c_quality.append(quality)
            seg.c_arm.append(arm)
            seg.c_prob.append(prob)  # type: ignore[arg-type]  # not None when random
        if not truncated:
            names = seg.covariates
            if names is None:
                names = self._covariate_names(seg, covariates)
            seg.s_tokens.append(tokens)
            seg.s_covariates.extend(map(covariates.get, names, seg.zeros))
            seg.s_quality.append(quality)
        return seg

    def _bucket(self, seg: _Segment, model: str) -> list[int]:
        bucket = seg.reasoning.get(model)
        if bucket is None:
            bucket = seg.reasoning[model] = []
        seg.last_model, seg.last_bucket = model, bucket
        return bucket

    def _label(self, label: Label) -> _Segment | None:
        self.n_labels += 1
        p = self._pending.pop(label.request_id, None)
        if p is None:
            self.unmatched_labels += 1
            return None
        seg = self._segment(p.segment)
        self._add(seg, p, label.quality)
        return seg

    def _add(self, seg: _Segment, p: _Pending, quality: float) -> None:
        """A labelled event joins its segment's causal and slope samples."""
        labels = seg.labels
        labels[p.model] = labels.get(p.model, 0) + 1
        if p.random:
            seg.c_quality.append(quality)
            seg.c_arm.append(p.arm)
            seg.c_prob.append(p.prob)
        # Truncated events stay out of the slope (their length is the cap, not a choice).
        if not p.truncated:
            names = seg.covariates
            if names is None:
                names = self._covariate_names(seg, p.covariates)
            seg.s_tokens.append(p.tokens)
            seg.s_covariates.extend(map(p.covariates.get, names, seg.zeros))
            seg.s_quality.append(quality)

    def _covariate_names(self, seg: _Segment, covariates: dict[str, float]) -> list[str]:
        """Fix the segment's covariate columns (config, else its first labelled event's)."""
        if self.config.covariates is not None:
            names = list(self.config.covariates)
        else:
            names = sorted(covariates)[: self.config.max_covariates]
        seg.covariates, seg.zeros = names, (0.0,) * len(names)
        return names

    @property
    def labelled(self) -> dict[tuple[str, str], int]:
        """Quality values received (inline or late) by (model, segment)."""
        return {(m, seg.name): n for seg in self.segments.values() for m, n in seg.labels.items()}

    # --- checks -----------------------------------------------------------------------------

    def check(self) -> list[Alert]:
        """Flush every segment, evaluate all tests, emit alert transitions."""
        return self._evaluate(list(self.segments.values()))

    def _evaluate(self, checked: list[_Segment]) -> list[Alert]:
        """Update ``checked`` segments from their buffers, then decide their alarms.

        Multiplicity (e-BH) runs over the latest results of *all* segments; hysteresis steps
        only for the segments that got new data, so a busy segment cannot advance a quiet
        one's fire/resolve counters.
        """
        self.n_checks += 1
        cfg = self.config
        for seg in checked:
            self._flush(seg)
            seg.last_causal = seg.causal.result()
            seg.last_slope = seg.slope.result() if seg.slope is not None else None
            seg.since = 0
        # Latest log e-values of every segment (NaN = not active yet), kept in arrays
        # indexed by segment order so a check costs O(segments) in numpy, not in Python.
        n_seg = len(self.segments)
        if self._log_e.size < n_seg:
            grow = np.full(n_seg - self._log_e.size, np.nan)
            self._log_e = np.concatenate([self._log_e, grow])
            self._log_bf = np.concatenate([self._log_bf, grow])
        for seg in checked:
            c, sl = seg.last_causal, seg.last_slope
            self._log_e[seg.index] = c.log_e if c is not None and c.active else np.nan
            self._log_bf[seg.index] = sl.log_bf if sl is not None and sl.active else np.nan
        causal_rej = self._reject(self._log_e)
        slope_rej = self._reject(self._log_bf)
        index = {seg.name: seg.index for seg in checked}
        names = [seg.name for seg in checked]
        causal = [seg.last_causal for seg in checked]
        slopes = [seg.last_slope for seg in checked]
        out: list[Alert] = []
        for i, name in enumerate(names):
            c = causal[i]
            assert c is not None
            k = index[name]
            alarm = bool(causal_rej[k]) and c.active and c.upper < 0
            self._alarm_state[(name, "causal_effect")] = alarm
            causal_reading: _Reading = {
                "estimate": c.estimate, "lower": c.lower, "upper": c.upper, "n": c.n,
                "evidence": math.exp(min(c.log_e, 700.0)), "associational": False,
            }  # fmt: skip
            self._transition(out, name, "causal_effect", alarm, causal_reading)
            s = slopes[i]
            if s is None:
                continue
            s_alarm = cfg.slope_alerts and bool(slope_rej[k]) and s.active and s.upper < 0
            self._alarm_state[(name, "observational_slope")] = s_alarm
            slope_reading: _Reading = {
                "estimate": s.slope, "lower": s.lower, "upper": s.upper, "n": s.n,
                "evidence": s.p_value, "associational": True,
            }  # fmt: skip
            if cfg.slope_alerts:
                self._transition(out, name, "observational_slope", s_alarm, slope_reading)
            if s.change:
                out.append(self._alert("notice", "slope_change", name, slope_reading))
                tracker = self.segments[name].slope
                if tracker is not None:
                    tracker.acknowledge_change()
        self.alerts.extend(out)
        for alert in out:
            for sink in self.sinks:
                sink.send(alert)
        return out

    def _reject(self, arr: np.ndarray) -> NDArray[np.bool_]:
        if self.config.multiplicity == "none":
            hit = np.nan_to_num(arr, nan=-np.inf) >= math.log(1.0 / self.config.alpha)
            return np.asarray(hit, dtype=np.bool_)
        with np.errstate(over="ignore"):
            return ebh(np.exp(np.minimum(arr, 700.0)), self.config.alpha)

    def _transition(
        self, out: list[Alert], segment: str, test: str, condition: bool, reading: _Reading
    ) -> None:
        step = self.hysteresis.step((segment, test), condition)
        if step is not None:
            state = "firing" if step == "fire" else "resolved"
            out.append(self._alert(state, test, segment, reading))

    def _alert(self, state: str, test: str, segment: str, reading: _Reading) -> Alert:
        return Alert.model_validate(
            {
                **reading,
                "state": state,
                "test": test,
                "segment": segment,
                "ts": self.last_ts or time.time(),
                "event_index": self.n_events,
            }
        )

    def _flush(self, seg: _Segment) -> None:
        if seg.c_quality:
            seg.causal.update(np.array(seg.c_quality), np.array(seg.c_arm), np.array(seg.c_prob))
            seg.c_quality, seg.c_arm, seg.c_prob = [], [], []
        if seg.s_tokens:
            log_tokens = np.log2(np.maximum(np.array(seg.s_tokens, dtype=np.float64), 1.0))
            columns = [np.ones(len(log_tokens)), log_tokens]
            if seg.covariates:
                cov = np.array(seg.s_covariates, dtype=np.float64).reshape(len(log_tokens), -1)
                # log1p keeps counts like `chars` from dominating the design matrix.
                columns.append(np.log1p(np.maximum(cov, 0.0)))
            x = np.column_stack(columns)
            if seg.slope is None:
                cfg = self.config
                seg.slope = SlopeTracker(
                    x.shape[1],
                    cfg.alpha,
                    cfg.phi,
                    cfg.min_n,
                    cfg.change_window,
                    cfg.change_threshold,
                )
            seg.slope.update(x, np.array(seg.s_quality, dtype=np.float64))
            seg.s_tokens, seg.s_covariates, seg.s_quality = [], [], []
        for model, tokens in seg.reasoning.items():
            if not tokens:
                continue
            values = np.array(tokens, dtype=np.float64)
            counts = np.bincount(
                np.searchsorted(REASONING_BUCKETS, values), minlength=len(REASONING_BUCKETS)
            )
            if model in seg.hist:
                seg.hist[model] += counts
                seg.hist_sum[model] += float(values.sum())
            else:
                seg.hist[model] = counts
                seg.hist_sum[model] = float(values.sum())
            tokens.clear()

    # --- views ------------------------------------------------------------------------------

    def snapshots(self) -> Iterator[SegmentSnapshot]:
        """Per-segment results as of the last check."""
        for name, seg in self.segments.items():
            causal = seg.last_causal or seg.causal.result()
            yield SegmentSnapshot(
                segment=name,
                causal=causal,
                slope=seg.last_slope,
                causal_alarm=(name, "causal_effect") in self.hysteresis.firing,
                slope_alarm=(name, "observational_slope") in self.hysteresis.firing,
                truncated=seg.truncated,
            )

    @property
    def pending(self) -> int:
        """Events still waiting for a label."""
        return len(self._pending)
