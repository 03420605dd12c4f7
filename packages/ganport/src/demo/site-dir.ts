/** Where the prebuilt demo page lives (scripts/build-demo.ts writes it; the package ships it). */
import { join } from 'node:path';
import { packageRoot } from '../util/files.js';

export const demoSite = (): string => join(packageRoot(), 'dist', 'demo-site');
