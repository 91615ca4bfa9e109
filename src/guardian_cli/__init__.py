"""`guardian`: the operator's command line. Same core as the functions; never in the Lambda artifact."""
