f_in = 2
f_out = 1
width = 64
depth = 4


def params():
    """The settings, as one tuple."""
    return f_in, f_out, width, depth
