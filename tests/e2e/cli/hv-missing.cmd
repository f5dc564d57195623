hv
