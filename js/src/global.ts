// Browser global build: window.Primus (and window.Allspark).
import { Primus } from './client';

const g = globalThis as unknown as { Primus?: typeof Primus; Allspark?: typeof Primus };
g.Primus = Primus;
g.Allspark = Primus;
