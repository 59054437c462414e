import { realControllerSuite } from './scenarios.js';

realControllerSuite('kernel');
