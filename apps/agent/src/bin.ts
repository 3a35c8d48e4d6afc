/** Executable entry: the bundle for the single binary starts here, as does `edgec agent`. */
import { main } from './main';

main();
