# Rollups and dashboards arrive with issue #9.
