"""The one place numbers are formatted for people.

Exact integers are shown with thousands separators; rounded figures use SI
prefixes (M = 10^6) for counts and decimal megabytes (MB = 10^6 bytes) unless
``binary`` asks for MiB (2^20), and always say which.
"""
from __future__ import annotations

_SI = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))
_BINARY = ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))
_DECIMAL = ((10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "KB"))


def grouped(value) -> str:
    """1234567 -> '1,234,567'; non-integers (symbols) pass through as text."""
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def throughput(per_second: float) -> str:
    """Images (or steps) per second: whole numbers from 10 up, two significant digits below,
    so a slow model on a CPU shows 0.42, not 0."""
    if per_second >= 10:
        return f"{per_second:,.0f}"
    return f"{per_second:.2g}"


def si(value, digits: int = 3) -> str:
    """1234567 -> '1.23M' (SI prefixes on counts)."""
    if not isinstance(value, (int, float)):
        return str(value)
    for scale, suffix in _SI:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g}{suffix}"
    return f"{value:g}"


def size_bytes(value, binary: bool = False) -> str:
    """Bytes in MB (10^6) by default, MiB (2^20) when ``binary``."""
    if not isinstance(value, (int, float)):
        return str(value)
    for scale, suffix in (_BINARY if binary else _DECIMAL):
        if abs(value) >= scale:
            return f"{value / scale:.2f} {suffix}"
    return f"{value} B"


def shape(dims) -> str:
    """(64, 56, 56) -> '64x56x56' (C x H x W, the spec's order)."""
    return "x".join(str(d) for d in dims)


def square(pair) -> str:
    """(7, 7) -> '7'; (7, 5) -> '7x5' (receptive fields are usually square)."""
    return str(pair[0]) if len(set(pair)) == 1 else shape(pair)


def ratio(value: float) -> str:
    return f"{value:.3g}x"


def percent(part, whole) -> str:
    """(74, 100) -> '74%'; a zero whole gives '-'."""
    return f"{part / whole:.0%}" if whole else "-"


def scaled(value, scale, suffix: str, decimals: int, signed: bool = False) -> str:
    """A count in a published figure's own unit: (163328, 1024, 'K', 1) -> '159.5K'."""
    return f"{float(value) / float(scale):{'+' if signed else ''}.{decimals}f}{suffix}"
