"""Impact: local money, local work and CO₂e, figured from the events alone.

``ledger.py`` folds events into facts, the same fold for the projector's view
(projections/impact.py) and for a recomputation from an export
(audit/impact.py); ``report.py`` turns summed facts into a report beside a
stated baseline. The versioned transport factors are in domain/transport.py,
since a dispatch records which table it was made under.
"""
