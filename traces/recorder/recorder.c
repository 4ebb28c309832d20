/* Placeholder: the recorder is being written. */
int ptrecord_placeholder(void);
int ptrecord_placeholder(void) { return 0; }
