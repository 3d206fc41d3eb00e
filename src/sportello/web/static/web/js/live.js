/* Desk: live. Loaded on every Desk page (defer); does nothing where its elements are absent. */
"use strict";
