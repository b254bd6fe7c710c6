int swell_kernels_placeholder(void);
