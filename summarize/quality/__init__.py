"""Judging outputs: evaluation against references, faithfulness checks, eval files and the HTML report."""
