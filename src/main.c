/* main.c: placeholder entry point, replaced by the CLI dispatcher. */
#include <stdio.h>
int main(void) {
    printf("ccproxy %s\n", CCPROXY_VERSION);
    return 0;
}
