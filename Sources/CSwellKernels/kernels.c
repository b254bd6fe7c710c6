int swell_kernels_placeholder(void) { return 0; }
