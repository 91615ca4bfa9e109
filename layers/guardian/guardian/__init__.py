"""Studio Cost Guardian core: shipped as a Lambda layer, shared by every function and the CLI.

What lives where (each handler in functions/ makes one call into the first column of its row):

Events and the sweep: what exists, and whose it is
    events/          an EventBridge event -> observations (cloudtrail.py: one translator per API call;
                     service.py: native state changes; models.py: the pydantic shapes, total on junk)
    ingest           the event path: translate, record, reject bad input with a reason code
    refresh          the event path's describe of one resource an event changed but did not say how
    judging          the event path's findings: the rules of what an event changed, or their check scheduled
    sweep            the scheduled path: reconcile, then evaluate; or one scheduled evaluation
    fanout           a hub's sweep targets: its own account and its members', times their regions (the
                     template's SweepFanOut state machine sweeps each); members.py: a member reached first,
                     one it cannot reach reported to the team (member-unreachable), never failed
    reconcile        list and describe what really exists (collectors.py: one collector per kind), and the
                     rolling re-describe of what no list shows
    resume           sweeps that finish at any size: the invocation's time, and the checkpoint the next continues from
    evidence         when a stop or deletion no event reported happened: CloudTrail's history, bounded
    recording        one observation into the inventory: merge, derive, tag, follow up
    inventory        merging observations into records in any order (dynamo_inventory.py: in the table)
    resource         the vocabulary: Observation and its Via, Resource, Attribution and its Source
    attribution      who owns a resource, from the strongest evidence; derive.py recomputes derived fields
    arns, kinds      ARNs (parsing is total) and the kinds of resource tracked
    aws_fields       fields read alike from CloudTrail's camelCase and the API's PascalCase
    tagging          the tagging APIs behind one adapter, with their IAM actions

Findings: what is waste, what it costs, and who hears
    rules/           the catalogue: one module per rule, carrying its config, title and IAM needs
    evaluation       run the rules over resources and bring stored findings in line
    findings         a finding's lifecycle (pure); findings_store.py stores it (and writes it safely)
    resolution       resolve the findings of a resource the events say is gone
    scheduling       one-time checks at the moment a grace ends: recorded in the table, then scheduled
                     (EventBridge Scheduler); the sweep runs any check whose schedule never came
    cost, pricing    hourly cost from a resource's shape; the price book (Price List API or bundled)
    money            every dollar figure people read: unknown, never $0.00; totals count what they leave out
    metric_data      CloudWatch in batches of 500 queries
    invocations      each endpoint variant's latest busy hour: CloudWatch is not asked while it is in the window
    notices          what a finding's change means for whom; messages.py words it
    notify           the findings stream -> notices -> the outbox (delivery.py) -> channels.py
    subscriptions    an owner's address and email subscription (delivered only once they confirm it)
    routing          which team hears of an account (AccountRoutes: its own route, else its OU's), and
                     a routed team's email subscription
    held             messages held for owners nobody could reach, sent once someone can (on a schedule)
    digest           the daily digest instead of immediate alerts
    remediation/     off, dry-run or enforce, once per resource after one reminder: safety.py decides what is
                     never acted on; live.py and rejudge.py read the world and the rules again the moment
                     before; actions.py (gentlest first, each with its IAM); restore.py undoes an action

The weekly report
    weekly           the report function's work: build, store, deliver
    report           who is wasting what over a period (period.py, allocation.py)
    report_document  the typed WeeklyReport; report_format.py and report_html.py render it
    actual_cost      Cost Explorer's figures beside the estimate; summary.py: the one-line total

Plumbing
    runtime          Guardian: settings, clients, stores and prices, built once per container
    settings         the environment, validated once; aws.py: the client factory
    table            the single table's keys and access patterns
    permissions      each function's IAM actions, gathered from the modules; tests hold template.yaml to it
    clock, observability   the moment to act at; the logger and metrics
    scan             the read-only audit (`guardian scan`): the sweep and the rules, in memory, dated and
                     attributed from CloudTrail's event history (evidence.py, with a scan's budget)
"""

__version__ = "0.1.0"
