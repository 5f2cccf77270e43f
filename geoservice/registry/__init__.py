"""The register of initiatives: records checked and cleaned (validation), public submissions and corrections,
moderation with its audit, and exports in the formats people use. The bulk import is imports/initiatives.py."""
