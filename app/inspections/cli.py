from flask.cli import AppGroup

inspections_cli = AppGroup("inspections", help="Inspection housekeeping.")
