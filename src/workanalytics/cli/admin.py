"""Admin commands: PBXs, users, API keys and signing keys, and the server itself."""

from __future__ import annotations

import sys

import click

from workanalytics.cli import EXIT_USAGE, Context, fail, main
from workanalytics.cli.output import emit_rows, format_option


def _control(obj: Context):
    control = obj.open_control()
    control.ensure_customer()
    return control


def _control_errors():
    from workanalytics.control.plane import ControlError

    return ControlError


def _read_password(from_stdin: bool, prompt: str = "Password") -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    if not password:
        fail("the password must not be empty", EXIT_USAGE)
    return password


@main.group()
def customer() -> None:
    """Customers (tenants); `default` exists from `init` on."""


@customer.command("add")
@click.argument("name")
@click.pass_obj
def customer_add(obj: Context, name: str) -> None:
    control = _control(obj)
    try:
        control.customer(name)
    except _control_errors():
        control.ensure_customer(name)
        click.echo(f"customer {name} added")
        return
    fail(f"customer {name!r} already exists")


@customer.command("list")
@format_option()
@click.pass_obj
def customer_list(obj: Context, output_format: str) -> None:
    rows = [(c.name, c.id) for c in _control(obj).customers()]
    emit_rows(("name", "id"), rows, output_format, title="customers")


@main.group()
def pbx() -> None:
    """PBXs of a customer (PBXs named by ingested legs are added to `default`)."""


@pbx.command("add")
@click.argument("name")
@click.option("--customer", default="default", show_default=True)
@click.pass_obj
def pbx_add(obj: Context, name: str, customer: str) -> None:
    try:
        _control(obj).add_pbx(name, customer)  # an unknown customer is an error, not created
    except _control_errors() as exc:
        fail(str(exc))
    click.echo(f"PBX {name} added to customer {customer}")


@pbx.command("list")
@click.option("--customer", default="default", show_default=True)
@format_option()
@click.pass_obj
def pbx_list(obj: Context, customer: str, output_format: str) -> None:
    try:
        control = _control(obj)
        names = control.pbx_names(control.customer(customer).id)
    except _control_errors() as exc:
        fail(str(exc))
    emit_rows(("pbx_id",), [(n,) for n in names], output_format, title=f"PBXs of {customer}")


@main.group()
def user() -> None:
    """Users who log in through the token endpoint."""


@user.command("add")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (else prompt).")
@click.option("--all-pbxes", is_flag=True, help="Entitled to every PBX of the customer.")
@click.option("--pbx", "pbx_list", default=None, help="Entitled to these PBXs: P1,P2.")
@click.option("--customer", default="default", show_default=True)
@click.pass_obj
def user_add(
    obj: Context,
    username: str,
    password_stdin: bool,
    all_pbxes: bool,
    pbx_list: str | None,
    customer: str,
) -> None:
    if all_pbxes == bool(pbx_list):
        fail("give exactly one of --all-pbxes or --pbx P1,P2", EXIT_USAGE)
    password = _read_password(password_stdin)
    names = [p.strip() for p in (pbx_list or "").split(",") if p.strip()]
    try:
        _control(obj).add_user(
            username, password, customer=customer, all_pbxes=all_pbxes, pbx_list=names
        )
    except _control_errors() as exc:
        fail(str(exc))
    click.echo(f"user {username} added")


@user.command("disable")
@click.argument("username")
@click.option("--customer", default=None)
@click.pass_obj
def user_disable(obj: Context, username: str, customer: str | None) -> None:
    try:
        _control(obj).set_user_disabled(username, True, customer)
    except _control_errors() as exc:
        fail(str(exc))
    click.echo(f"user {username} disabled")


@user.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (else prompt).")
@click.option("--customer", default=None)
@click.pass_obj
def user_passwd(obj: Context, username: str, password_stdin: bool, customer: str | None) -> None:
    password = _read_password(password_stdin, "New password")
    try:
        _control(obj).set_password(username, password, customer)
    except _control_errors() as exc:
        fail(str(exc))
    click.echo(f"password of {username} changed")


@main.group()
def apikey() -> None:
    """API keys: shown once at creation, stored only as a hash."""


@apikey.command("create")
@click.option("--admin", is_flag=True, help="May also ingest legs through the server.")
@click.option("--name", default="", help="A label to recognise the key by.")
@click.option("--customer", default="default", show_default=True)
@click.pass_obj
def apikey_create(obj: Context, admin: bool, name: str, customer: str) -> None:
    """Print a new key as the last line of stdout (it is not shown again)."""
    try:
        key, secret = _control(obj).create_api_key(customer=customer, name=name, admin=admin)
    except _control_errors() as exc:
        fail(str(exc))
    click.echo(
        f"API key {key.id} created{' (admin)' if admin else ''}; it is shown only once:", err=True
    )
    click.echo(secret)


@apikey.command("revoke")
@click.argument("key_id")
@click.pass_obj
def apikey_revoke(obj: Context, key_id: str) -> None:
    try:
        _control(obj).revoke_api_key(key_id)
    except _control_errors() as exc:
        fail(str(exc))
    click.echo(f"API key {key_id} revoked")


@apikey.command("list")
@format_option()
@click.pass_obj
def apikey_list(obj: Context, output_format: str) -> None:
    """Every key's id, label and state; never the key itself."""
    rows = [
        (k.id, customer, k.name, "yes" if k.admin else "no", k.created_at, k.revoked_at or "")
        for k, customer in _control(obj).list_api_keys()
    ]
    emit_rows(("id", "customer", "name", "admin", "created_at", "revoked_at"), rows, output_format)


@main.group()
def keys() -> None:
    """Token signing keys."""


@keys.command("rotate")
@click.pass_obj
def keys_rotate(obj: Context) -> None:
    """Sign new tokens with a new key; tokens signed by the old one stay valid until they expire."""
    from workanalytics.control.factory import open_keyring

    control = obj.open_control()
    try:
        kid = open_keyring(obj.settings, control).rotate()
    finally:
        control.close()
    click.echo(f"new signing key {kid}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.pass_obj
def serve(obj: Context, host: str, port: int) -> None:
    """Serve the API at http://HOST:PORT/analytics/work."""
    from workanalytics.api.server import ServerStartError, run_server
    from workanalytics.control.plane import ControlUnavailable
    from workanalytics.store import StoreError

    try:
        run_server(obj.settings, host=host, port=port)
    except (StoreError, ServerStartError, ControlUnavailable) as exc:
        fail(str(exc))
