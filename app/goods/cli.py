import click
from flask.cli import AppGroup

from app import db
from app.audit.service import Actor
from app.enterprises import service as enterprises
from app.errors import DomainError
from app.goods import service

goods_cli = AppGroup("goods", help="Goods barcodes.")


@goods_cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--enterprise-uscc", help="USCC of the bonded warehouse the products belong to (default: park base data)."
)
def import_file(file, enterprise_uscc: str | None) -> None:
    """Import products from a CSV FILE (same format as POST /api/v1/products/import)."""
    try:
        rows = list(service.read_csv(file.read()))
        with db.transaction() as session:
            enterprise_id = None
            if enterprise_uscc:
                enterprise = enterprises.find_enterprise_by_uscc(session, enterprise_uscc)
                if enterprise is None:
                    raise click.BadParameter(f"No enterprise has USCC {enterprise_uscc}.")
                enterprise_id = enterprise.id
            with click.progressbar(rows, label="Importing products") as progress:
                report = service.import_products(
                    session,
                    progress,
                    enterprise_id=enterprise_id,
                    registrar_id=None,
                    actor=Actor(user=None, client_addr="cli"),
                )
    except DomainError as error:
        raise click.ClickException(error.detail) from None
    for problem in report.errors:
        click.echo(f"line {problem.row}: {problem.field or '-'}: {problem.message}", err=True)
    click.echo(
        f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, {report.rejected} rejected."
    )
