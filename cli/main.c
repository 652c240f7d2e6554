/*
 * main.c — the backless command-line tool (placeholder being replaced).
 */
#include <stdio.h>

int main(int argc, char **argv) {
  (void)argc; (void)argv;
  fprintf(stderr, "backless: not yet implemented\n");
  return 2;
}
