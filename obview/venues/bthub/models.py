"""bthub order and risk records: the venue-neutral typed records of `obview.records`."""

from obview.records import CpOrder, Execution, Order, RiskRow

__all__ = ["CpOrder", "Execution", "Order", "RiskRow"]
