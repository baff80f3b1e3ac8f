"""Admin of the loyalty app, one module per concern; each registers its own ModelAdmins."""
