"""`make bench`'s organization figure (guardian_sandbox.bench_org): the fan-out it measures is template.yaml's,
one sweep per account and region, each member reached through one AssumeRole; its modelled wall time runs the
children at the Map's MaxConcurrency (never faster than the slowest child, never slower than all in a row)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from guardian_sandbox import bench_org, organization, studio
from guardian_sandbox.bench_org import Child, FanOut
from guardian_sandbox.stack import SandboxStack
from guardian_sandbox.worlds import seed


def test_a_fan_out_sweeps_every_account_and_region_once_and_assumes_each_members_role(sandbox):
    studio.settings.transition_seconds = 0
    org = organization.build(sandbox, accounts=2, regions=("us-east-1", "eu-west-1"))
    for where in org.locations():
        seed(org.clients(where.account, where.region), bench_org.SMALL_WORLD, f"arn:aws:iam::{where.account}:role/r")
    stack = SandboxStack(sandbox, parameters=org.hub_parameters()).deploy()
    run = bench_org.fan_out(stack, "first")
    assert run.status == "SUCCEEDED"
    swept = {(c.payload["account"], c.payload["region"]) for c in run.children if "account" in c.payload}
    assert swept == {(w.account, w.region) for w in org.locations()}
    assert run.assumed == len(org.locations()) - 1  # the hub's own account in its own region needs no role
    assert run.transitions == 2 + len(swept)  # ListTargets and the Map, then one state per child
    assert sum(run.calls(hub_side=False).values()) > 0 and run.write_units > 0
    assert bench_org.map_concurrency(stack) == 10  # template.yaml's SweepMaxConcurrency default


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=30),
    st.integers(min_value=1, max_value=12),
)
def test_the_modelled_wall_time_runs_the_children_at_the_maps_concurrency(calls_per_child, concurrency):
    children = [Child({"targets": True}, [("sagemaker", "ListDomains")], 0)]
    children += [Child({"account": "1"}, [("sagemaker", "ListSpaces")] * n, 0) for n in calls_per_child]
    run = FanOut("x", children)
    each = [c.modelled_seconds for c in children[1:]]
    wall = run.wall_seconds(concurrency) - children[0].modelled_seconds
    assert max(each) - 1e-9 <= wall <= sum(each) + 1e-9
    if concurrency == 1:
        assert abs(wall - sum(each)) < 1e-9
    if concurrency >= len(each):
        assert abs(wall - max(each)) < 1e-9
