from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from app.cli import alembic_config
from app.models import Base
from tests.databases import configured_url, scratch_database


def test_migrations_go_down_to_base_and_back_up_to_a_schema_matching_the_models(tmp_path):
    with scratch_database(configured_url(), tmp_path) as url:
        config = alembic_config(url)
        command.upgrade(config, "head")
        command.downgrade(config, "base")
        engine = create_engine(url)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

        command.upgrade(config, "head")
        command.check(config)  # raises when the models and the migrated schema differ

        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
        engine.dispose()


def test_migrations_form_one_line_of_history():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))

    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1
