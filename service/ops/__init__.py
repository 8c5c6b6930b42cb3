"""Bookkeeping and reports: the query log and its migrations, metrics, logs, rate limits, body limits, insights."""
