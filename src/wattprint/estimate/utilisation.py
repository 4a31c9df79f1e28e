"""Model FLOPs utilisation (MFU) and training power: the fitted, sourced defaults of the training estimator.

MFU model (fitted by ``scripts/fit_utilisation.py`` on published trainings; coefficients, sources and the
residual spread live in ``data/tables/utilisation_model.json``)::

    ln(MFU) = b0
            + b_small * small                               # small = min(log10(N_active / N_knee), 0)
            + b_ridge * harder                              # harder = max(log2(ridge / ridge_ref), 0)
            + b_both  * small * harder                      # small models suffer most on such chips
            + b_moe   * [MoE]                               # routing, all-to-all, load imbalance
            + b_fp8   * [fp8 training]                      # relative to the bf16/fp16 peak
            + b_old   * [chip older than the reference chip]  # pre-Ampere generations (P100, V100, TPU v2/v3)
            (+ b_step * [per-step MFU as reported]           # only while fitting: reported step MFU
                                                             #  excludes restarts, evaluation, downtime)

``N_knee``, the size above which a larger model no longer raises the MFU, is not one fixed value: the model is
the weighted average, in ln(MFU), of one fit per knee of a grid (10B-1T active parameters), each weighted by how
well it predicts families left out of its fit (see ``scripts/fit_utilisation.py``, ``knee_weights``). Why not
the single best knee: the best knees of the grid score nearly alike on the published trainings, so one
observation more or less switched the pick and with it the coefficients; a weighted average moves little where
the data barely prefer one knee. On chips since the A100 the gain continues past 10B (published H100 trainings
of 14B models reach less of the peak than those of 70B models).
Neither size coefficient may be negative (a smaller model's matrix products are never easier to keep busy): if
the data alone would say so, the fit holds it at zero and refits the rest; on chips up to the reference ridge the
published trainings show almost no size effect, so ``b_small`` may be zero and the size effect then lives in the
interaction.

``ridge`` is the chip's roofline ridge point: dense peak FLOP/s / memory bandwidth (FLOP per byte), the
arithmetic intensity an operation needs to run at the peak rather than at the memory's pace; ``ridge_ref``
is the A100 SXM4 80GB's (312 TFLOP/s / 2.04 TB/s, about 153). Why: below that point the chip's balance does not
limit the MFU; the software does. Chips since then raised the tensor peak faster than memory and interconnect
bandwidth (H100: 3.2x the peak, 1.6x the bandwidth), so the work that is not a large matrix product (attention
softmax, norms, optimizer, communication) takes a larger share of each step and the same code reaches a lower
fraction of the peak; a small model, whose matrix products are small and least intense, loses most (the
interaction). A hinge in log2(ridge) is the piecewise-linear form of that roofline argument.

Chips of a generation before the reference chip (released before the A100, 2020: P100, V100, TPU v2/v3) get one
offset of their own: trainings on them ran the software of their time, and published ones reach less of the
peak than A100-era runs (GPT-3 on V100 21 %, Gopher on TPU v3 32.5 %, against PaLM's 46 %: PaLM, Table 3); on
GPUs, FlashAttention-2 and bf16 need Ampere or newer. Both terms were chosen on these grounds, then checked by
leave-one-family-out over all observations (see bench/results/training_accuracy.md). A chip without a published
bandwidth is taken at the reference ridge, and the explanation says so.

Two physical limits the linear fit does not know: the ridge is compared per tensor element (a precision with
twice the bytes, tf32 or fp32, moves twice the bytes per FLOP: ``element_bytes``), and no chip is predicted to
reach fewer FLOP/s than the reference chip would for the same training, scaled by the smaller of the chip's peak
and bandwidth ratios to it (at most 1): the roofline of a chip that much smaller in both (the interaction, a
straight line in log size, said an H100 trains slower than an A100 below a few hundred million parameters).

MFU here is *effective*: model FLOPs (6·N·D) / (chip-hours x dense peak at the chip's default precision),
so it already includes downtime counted in published chip-hours. The range comes from the 10th-90th
percentiles of the fit's *cross-validated* residuals (each family predicted by a fit without it), not
from a guess, so it is as wide as the errors on unseen developers are.

Power model: the accelerator draws a fraction of its TDP (GPU-only figures: per architecture the mean of the
figures measured on trainings with its chips, Hopper ~0.89, Ampere ~0.70, elsewhere the mean over all; the range
spans every sourced figure, the TDP convention included); the host (CPU, RAM, other:
fans, NICs, switches, PSU losses) is modelled per server from rated system power minus accelerator TDP
(DGX datasheets, for the SXM modules those servers hold; other chips get the mean DGX share of their own TDP)
times a sourced load factor; a superchip's own CPU (GH200, GB200: the Grace CPU with its memory,
refdata/superchips.csv) is its node's CPU and RAM. Chips whose only published power figures are system-level per
chip (Google TPUs; the P100, measured by Patterson et al. 2021) get an *all-in* fraction instead and no host on
top.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from ..footprint import Assumption
from ..quantities import Range

if TYPE_CHECKING:
    from ..data.catalogue import ModuleHost

FEATURES = ("small_model", "ridge_above_ref", "moe", "fp8", "step_basis", "small_x_ridge", "older_chip")
MODEL_FILE = "utilisation_model.json"


@lru_cache(maxsize=1)
def model_table() -> dict[str, Any]:
    """The fitted model (coefficients, spread, power defaults, sources), loaded once."""
    text = resources.files("wattprint.data").joinpath("tables").joinpath(MODEL_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


# -- MFU ---------------------------------------------------------------------------------------
def features(
    active_params: float, peak_flops: float, bandwidth: float | None, moe: bool, fp8: bool, step_basis: bool,
    ref: dict[str, Any], chip_year: int | None = None, element_bytes: float | None = None,
) -> list[float]:
    """Feature vector (intercept first) for one training; ``peak_flops`` in FLOP/s at default precision,
    ``bandwidth`` the chip's memory bandwidth in B/s (None: taken at the reference ridge), ``chip_year`` the
    chip's release year (None: taken as not older than the reference chip); ``ref["params"]`` is the size knee
    (active parameters). ``element_bytes``: bytes per tensor element at the precision of ``peak_flops`` (None: the
    reference's, 2 for bf16/fp16); the ridge is compared per element, so a precision with half the peak and twice
    the bytes (tf32 against bf16) needs the same share of its peak from the memory."""
    small = min(math.log10(active_params / ref["params"]), 0.0)
    harder = max(math.log2(peak_flops * _per_element(ref, element_bytes) / bandwidth / ref["ridge"]), 0.0) \
        if bandwidth else 0.0
    older = chip_year is not None and chip_year < ref["year"]
    return [1.0, small, harder, float(moe), float(fp8), float(step_basis), small * harder, float(older)]


def _per_element(ref: dict[str, Any], element_bytes: float | None) -> float:
    """Bytes per tensor element at the run's precision over the reference's (1 where not given: the model's
    fitting precision; a table without the reference's element size is of bf16/fp16, 2 bytes)."""
    ref_bytes = ref.get("element_bytes", 2.0)
    return (element_bytes or ref_bytes) / ref_bytes


@dataclass(frozen=True)
class KneeComponent:
    """One fit of the MFU model: its size knee, its weight in the average and its coefficients (FEATURES order)."""

    knee: float  # active parameters above which this fit's size term is zero
    weight: float  # share of this fit in the averaged ln(MFU); the components' weights sum to 1
    coef: tuple[float, ...]


def shipped_components(table: dict[str, Any] | None = None) -> list[KneeComponent]:
    """The shipped model's fits, one per knee of the grid, with their weights."""
    comps = (table or model_table())["mfu"]["components"]
    return [KneeComponent(c["knee"], c["weight"], tuple(c["coef"])) for c in comps]


def mean_knee(components: Sequence[KneeComponent]) -> float:
    """The components' knees averaged with their weights on a log scale (active parameters): where the averaged
    size term, in the main, stops."""
    return math.exp(sum(c.weight * math.log(c.knee) for c in components))


@dataclass(frozen=True)
class MfuEstimate:
    """Predicted effective MFU (fraction of the default-precision dense peak) with its range and why."""

    mfu: Range
    explanation: str
    source: str


def predict_mfu(
    active_params: float,
    peak_flops: float,
    bandwidth: float | None,
    moe: bool = False,
    fp8: bool = False,
    chip_year: int | None = None,
    components: Sequence[KneeComponent] | None = None,
    table: dict[str, Any] | None = None,
    quantiles: tuple[float, float] | None = None,
    element_bytes: float | None = None,
) -> MfuEstimate:
    """Effective MFU for a training of ``active_params`` parameters on a chip of ``peak_flops`` (FLOP/s),
    memory ``bandwidth`` (B/s; None if unpublished) and release year ``chip_year`` (None if unknown);
    ``element_bytes`` as in :func:`features`.

    ln(MFU) is the weighted mean of the components' ln(MFU), and so is each factor the explanation names.
    ``components`` and ``quantiles`` (ln-residual quantiles that set the range) override the shipped ones: the
    benchmark refits without the family it scores.

    No chip is predicted to reach fewer FLOP/s than the reference chip scaled by the smaller of its peak and
    bandwidth ratios to it (:func:`_roofline_share`): below a few hundred million parameters the size-ridge
    interaction, a straight line, would say an H100 reaches fewer FLOP/s than an A100.
    """
    t = table or model_table()
    m = t["mfu"]
    comps = components if components is not None else shipped_components(t)
    ref = m["reference"]
    # ln contributions, each averaged over the components: base, size, ridge (with its size interaction),
    # MoE, fp8, older chip; their sum is the averaged ln(MFU)
    xs = [features(active_params, peak_flops, bandwidth, moe, fp8, False, {**ref, "params": c.knee}, chip_year,
                   element_bytes) for c in comps]
    x = xs[0]  # all but the size terms are the same at every knee
    base = size = ridge_part = moe_part = fp8_part = older_part = 0.0
    for c, xc in zip(comps, xs, strict=True):
        b = c.coef
        base += c.weight * b[0]
        size += c.weight * b[1] * xc[1]
        ridge_part += c.weight * (b[2] * xc[2] + b[6] * xc[6])
        moe_part += c.weight * b[3] * xc[3]
        fp8_part += c.weight * b[4] * xc[4]
        older_part += c.weight * b[7] * xc[7]
    ln_mfu = ln_unfloored = base + size + ridge_part + moe_part + fp8_part + older_part
    per = _per_element(ref, element_bytes)  # at twice the bytes a value, twice the bytes per FLOP
    share = _roofline_share(ref, peak_flops * per, bandwidth)
    if share is not None:  # the same training on the reference chip (no ridge term), at its FLOP/s x the share
        floor = share * ref["peak"] / (peak_flops * per)
        ln_mfu = max(ln_mfu, base + size + moe_part + fp8_part + older_part + math.log(floor))
    floored = ln_mfu > ln_unfloored
    lo_q, hi_q = quantiles if quantiles is not None else m["residual_quantiles_ln"]
    lo_b, hi_b = m["bounds"]
    central = min(max(math.exp(ln_mfu), lo_b), hi_b)
    low = min(max(central * math.exp(lo_q), lo_b), central)
    high = max(min(central * math.exp(hi_q), hi_b), central)
    knees = [c.knee for c in comps]
    parts = [f"{math.exp(base):.2f} base (chip of the A100's generation or later, up to its ridge point, dense, "
             f"past the size knee: about {mean_knee(comps) / 1e9:.2g}B, weighted over {min(knees) / 1e9:g}B-"
             f"{max(knees) / 1e9:g}B)"]
    if active_params < max(knees):
        parts.append(f"x{math.exp(size):.2f} model size {active_params / 1e9:.3g}B active")
    if x[2] != 0:
        ridge = peak_flops / bandwidth if bandwidth else 0.0
        parts.append(f"x{math.exp(ridge_part):.2f} chip needs {ridge:.0f} FLOP/byte to reach its "
                     + (f"peak ({ridge / ref['ridge']:.2g}x the A100's)" if per == 1 else
                        f"peak, as much as {ridge * per:.0f} FLOP/byte at the A100's {ref.get('element_bytes', 2):g} "
                        f"bytes a value ({ridge * per / ref['ridge']:.2g}x the A100's)"))
    if floored and share is not None:
        parts.append(f"(raised to x{math.exp(ln_mfu - ln_unfloored):.2f}: "
                     + ("the FLOP/s this training is predicted to reach on the "
                        f"{ref['ridge_chip']}: a chip with at least its peak and memory bandwidth is not taken to "
                        "train slower)" if share >= 1 else
                        f"{share:.2g}x the FLOP/s this training is predicted to reach on the {ref['ridge_chip']}, the "
                        "smaller of this chip's peak and memory bandwidth over its: a chip with that share of both is "
                        "not taken to train slower)"))
    if not bandwidth:
        parts.append("(memory bandwidth unpublished: taken at the A100's ridge point)")
    if x[7]:
        parts.append(f"x{math.exp(older_part):.2f} chip from {chip_year}, a generation before the "
                     f"{ref['ridge_chip']} ({ref['year']}): published trainings on such chips reach less of their peak")
    if moe:
        parts.append(f"x{math.exp(moe_part):.2f} MoE")
    if fp8:
        parts.append(f"x{math.exp(fp8_part):.2f} fp8")
    lo_n, hi_n = fitted_size_span(t)
    if not lo_n <= active_params <= hi_n:
        parts.append(f"(EXTRAPOLATED: {active_params:.3g} active parameters lies outside the {lo_n:.2g}-{hi_n:.2g} "
                     "of the published trainings in the fit)")
    return MfuEstimate(
        Range(central, low, high),
        " ".join(parts) + f"; range = {m['range_note']}",
        m["source"],
    )


def _roofline_share(ref: dict[str, Any], peak_per_element: float, bandwidth: float | None) -> float | None:
    """The share of the reference chip's FLOP/s the roofline guarantees this chip: the smaller of its peak and
    bandwidth over the reference's, at most 1 (a chip with at least a share s of both reaches at least s times the
    reference's FLOP/s; one with at least both, at least the reference's). The peak is per element, as the ridge is
    (see :func:`features`): at a precision of twice the bytes (tf32) the reference is taken at half its default
    peak, as the A100's tf32 is. None without a bandwidth (also for a table without the reference's peak and
    bandwidth, an older fit)."""
    ref_peak, ref_bw = ref.get("peak"), ref.get("bandwidth")
    if not (ref_peak and ref_bw and bandwidth):
        return None
    return float(min(1.0, peak_per_element / ref_peak, bandwidth / ref_bw))


def predict_mfu_any_size(
    peak_flops: float, bandwidth: float | None, moe: bool = False, fp8: bool = False, chip_year: int | None = None,
    element_bytes: float | None = None,
) -> MfuEstimate:
    """Effective MFU when the model size is not known (FLOPs given alone): the model over the sizes of the
    published trainings in the fit, from the smallest up to the size knee (the components' weighted mean knee;
    above it size matters little).
    Central = at the middle of that span on a log scale; range = the envelope of every size's range. It does not
    depend on the FLOPs, so the estimate stays linear in them."""
    lo_n, hi_n = fitted_size_span()
    top = min(hi_n, mean_knee(shipped_components()))
    steps = 8
    grid = [lo_n * (top / lo_n) ** (i / steps) for i in range(steps + 1)]
    ests = [predict_mfu(n, peak_flops, bandwidth, moe=moe, fp8=fp8, chip_year=chip_year, element_bytes=element_bytes)
            for n in grid]
    middle = math.sqrt(lo_n * top)
    mid = predict_mfu(middle, peak_flops, bandwidth, moe=moe, fp8=fp8, chip_year=chip_year,
                      element_bytes=element_bytes)
    low = min([e.mfu.low for e in ests] + [mid.mfu.value])
    high = max([e.mfu.high for e in ests] + [mid.mfu.value])
    return MfuEstimate(
        Range(mid.mfu.value, low, high),
        f"model size not given: central at {middle / 1e9:.2g}B active parameters, the middle of the "
        f"{lo_n / 1e9:.2g}B-{top / 1e9:.3g}B of the published trainings in the fit; {mid.explanation}; the range "
        "covers every size in that span (give --params for a narrower one)",
        mid.source,
    )


def fitted_size_span(table: dict[str, Any] | None = None) -> tuple[float, float]:
    """Smallest and largest active-parameter count among the published trainings the MFU model was fitted on."""
    sizes = [o["active_params"] for o in (table or model_table())["mfu"]["observations"]]
    return min(sizes), max(sizes)


# -- fitting (pure Python so the benchmark can refit without numpy) --------------------------
def _solve(a: list[list[float]], y: list[float]) -> list[float]:
    """Solve a small dense linear system by Gaussian elimination with partial pivoting."""
    n = len(y)
    m = [row[:] + [y[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        if abs(m[c][c]) < 1e-12:
            m[c][c] = 1e-12  # unidentified coefficient (feature absent): ridge keeps it near 0
        for r in range(n):
            if r != c:
                f = m[r][c] / m[c][c]
                for k in range(c, n + 1):
                    m[r][k] -= f * m[c][k]
    return [m[i][n] / m[i][i] for i in range(n)]


def fit_mfu(
    rows: list[tuple[list[float], float]], ridge: float, huber_delta: float, iterations: int = 60
) -> list[float]:
    """Robust (Huber, iteratively reweighted) ridge least squares of ln(MFU) on the features.

    ``rows`` = [(features, mfu)]. Huber weights keep a few odd trainings (distillation, tiny MoE) from
    dragging the fit; the ridge (not applied to the intercept) keeps rarely-seen features near zero.
    """
    k = len(rows[0][0])
    w = [1.0] * len(rows)
    beta = [0.0] * k
    for _ in range(iterations):
        a = [[0.0] * k for _ in range(k)]
        rhs = [0.0] * k
        for (x, mfu), wi in zip(rows, w, strict=True):
            y = math.log(mfu)
            for i in range(k):
                rhs[i] += wi * x[i] * y
                for j in range(k):
                    a[i][j] += wi * x[i] * x[j]
        for i in range(1, k):
            a[i][i] += ridge
        beta = _solve(a, rhs)
        for n, (x, mfu) in enumerate(rows):
            r = abs(math.log(mfu) - sum(bi * xi for bi, xi in zip(beta, x, strict=True)))
            w[n] = 1.0 if r <= huber_delta else huber_delta / r
    return beta


# -- power ---------------------------------------------------------------------------------------
def _range(d: dict[str, float]) -> Range:
    return Range(d["value"], d["low"], d["high"])


def all_in_fraction(chip_name: str) -> tuple[Range, Assumption] | None:
    """All-in (chip + host share) average power as a fraction of TDP, where only system-level figures exist."""
    p = model_table()["power"]["all_in_fraction"].get(chip_name)
    if p is None:
        return None
    r = _range(p)
    return r, Assumption(
        "average power per chip (all-in, incl. host share)",
        f"{r:.3g} x TDP",
        p["source"],
        "measured system power per chip; no separate host power added",
    )


def architecture(family: str) -> str:
    """The architecture a catalogue family names ("Hopper (Grace Hopper superchip)" -> "Hopper"): a Grace Hopper
    module's GPU or a consumer Ampere card takes its architecture's power figure."""
    return family.split(" (")[0]


def gpu_fraction(family: str) -> tuple[Range, Assumption]:
    """Average accelerator-only power during training as a fraction of TDP (default per architecture)."""
    pw = model_table()["power"]["gpu_fraction"]
    p = pw["by_family"].get(architecture(family), pw["default"])
    r = _range(p)
    return r, Assumption("average accelerator power during training", f"{r:.3g} x TDP", p["source"], p["note"])


# the reference servers (DGX A100/H100/B200) hold SXM modules: a PCIe, workstation or consumer card of the same
# architecture sits in another server, whose host is not sized for eight 400-1000 W modules
DGX_FORM = "SXM"


def _rated_host_split(
    family: str, tdp_w: float, module_host: ModuleHost | None = None, form_factor: str = DGX_FORM
) -> tuple[dict[str, float], str, str]:
    """Rated (full-load) host W per accelerator by part, what they are, and their source. A superchip's own CPU
    (``module_host``, its memory included) is the CPU and RAM of its node: it replaces the reference server's.
    The family's reference server applies to its SXM modules only (``form_factor``); any other chip gets the
    generic share of its own TDP (an A10's 150 W card is not a DGX A100's 400 W module with 412 W of host)."""
    h = model_table()["power"]["host"]
    cls = h["classes"].get(family) if form_factor.startswith(DGX_FORM) else None
    if cls is not None:
        per = {k: float(cls[f"{k}_w_per_accelerator"]) for k in ("cpu", "ram", "other")}
        basis, src = f"{cls['name']} rated non-accelerator power per accelerator", str(cls["source"])
    else:
        g = h["generic_ratio_of_tdp"]
        per = {k: float(g[k]) * tdp_w for k in ("cpu", "ram", "other")}
        basis = "generic host share of the accelerator's TDP (mean of the DGX A100/H100/B200 ratios)"
        if family in h["classes"]:
            basis += f": a {form_factor} card's server is not the {h['classes'][family]['name']} of SXM modules"
        src = str(g["source"])
    if module_host is None:
        return per, basis, src
    per = {**per, "cpu": module_host.cpu_w, "ram": 0.0}
    return (per, f"CPU and memory on the module: {module_host.cpu_w:g} W per accelerator rated ({module_host.note}); "
            f"other: {basis}", f"{module_host.source}; {src}")


def rated_server_watts_per_accelerator(family: str, tdp_w: float, module_host: ModuleHost | None = None,
                                       form_factor: str = DGX_FORM) -> float:
    """The most a server of the family's class is rated to draw, per accelerator (W): its TDP plus its share of the
    host at full rating (DGX-class datasheets for SXM modules; a generic share of TDP for other chips; a
    superchip's own CPU)."""
    return tdp_w + sum(_rated_host_split(family, tdp_w, module_host, form_factor)[0].values())


def host_watts_per_accelerator(
    family: str, tdp_w: float, module_host: ModuleHost | None = None, form_factor: str = DGX_FORM
) -> tuple[dict[str, Range], Assumption]:
    """Host power (W) per accelerator by part: ``cpu``, ``ram``, ``other``.

    From the rated power of the family's reference server minus its accelerators' TDP (split into the
    CPUs' TDP, RAM x W/GB and the rest), times a load factor; other families scale a generic split by TDP. On a
    superchip (``module_host``) the CPU is the module's own, its memory included (so ``ram`` is 0).
    """
    h = model_table()["power"]["host"]
    load = _range(h["load"])
    per, basis, src = _rated_host_split(family, tdp_w, module_host, form_factor)
    parts = {k: load * v for k, v in per.items()}
    total = sum(per.values())
    return parts, Assumption(
        "host power per accelerator (CPU + RAM + other)",
        f"{load * total:.3g} W",
        f"{src}; load factor {load:.2g}: {h['load']['source']}",
        f"{basis}; load factor: {h['load']['note']}" if h["load"].get("note") else basis,
    )
