/* Placeholder: the native replayer is being written. */
int main(void) { return 0; }
