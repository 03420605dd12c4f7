/** `ganport/runtime`, kept for code written against ganport 0.1: the same API as `@ganport/runtime`. */
export * from '@ganport/runtime';
