"""Command-line interface (placeholder until the CLI lands)."""


def main() -> None:
    raise SystemExit("modelward CLI is not built yet")
