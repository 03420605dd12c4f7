#!/usr/bin/env node
import { main } from '../dist/cli/ganport.js';

process.exitCode = await main(process.argv.slice(2));
