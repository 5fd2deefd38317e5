"""Every query lives here, one module per noun."""
