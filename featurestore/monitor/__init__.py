"""Watching the features: statistics, drift, decay, freshness, consistency and skew.

    config.py        what is watched and when it raises (project file ``monitor:``, job headers)
    model.py         the results every check returns (histograms, scores, reports)
    stats.py         statistics per feature per partition, written by each ingestion run,
                     merged for any window (stats_compute.py: the queries and the merge;
                     stats_store.py: the records on disk)
    metrics.py       the drift metrics between two distributions (PSI, Jensen-Shannon,
                     normed Wasserstein, KS, chi-square), equal to scipy's and Evidently's
    drift.py         a model's features scored between two windows in one scan of their
                     tables, and the scores' trend per day or week
    windows.py       reference and current windows: a training set, a date range, the
                     previous period
    freshness.py     per view: newest offline event, last materialization, served age
    consistency.py   online values against the offline latest, per feature
    serving_log.py   the API's sample of served feature vectors
    skew.py          served vectors against a point-in-time join of the same requests
    report.py        the HTML report (plotly, its JavaScript shipped in the package)

The monitor only reads: it never changes feature tables or Redis.
"""
