"""`guardian sandbox`: moto and the Studio APIs moto lacks, served on 127.0.0.1 for any AWS client."""


def serve(port: int, transition_seconds: float) -> int:
    from guardian_sandbox import studio
    from guardian_sandbox.server import SandboxServer

    studio.settings.transition_seconds = transition_seconds
    server = SandboxServer(port)
    print(
        f"Sandbox on {server.url} (moto + SageMaker Studio APIs). Use it with:\n"
        f"  export AWS_ENDPOINT_URL={server.url} AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox\n"
        f"  guardian demo --endpoint-url {server.url}\nCtrl-C stops it.",
        flush=True,
    )
    server.serve_forever()
    return 0
