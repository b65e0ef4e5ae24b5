// The manager's /v1 REST API as TypeScript types, generated from its OpenAPI document by openapi-typescript
// (client/generate-api-types.ts). Do not edit: run `npm run gen:api -w @opencdp/cli` after changing a route;
// a spec fails when this file and the document drift apart. The CLI's client (openapi-fetch) is typed by it.
/* eslint-disable */
export interface paths {
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Prometheus metrics (public, unless the manager has a metrics token: then that token as a Bearer token, or a session) */
        get: operations["getMetrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/alerts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Standing alerts (cleared ones with includeCleared=true); site alerts have no vpgIdentifier */
        get: operations["listAlerts"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/alerts/{alertIdentifier}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One alert */
        get: operations["getAlert"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/alerts/{alertIdentifier}/dismiss": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** dismiss an alert */
        post: operations["dismissAlert"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/alerts/{alertIdentifier}/undismiss": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** undismiss an alert */
        post: operations["undismissAlert"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/datastores": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Every datastore of every site this manager reaches */
        get: operations["listDatastores"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Events, oldest first */
        get: operations["listEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/filerestore/{sessionIdentifier}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Close the file restore session */
        delete: operations["closeFileRestore"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/filerestore/{sessionIdentifier}/file": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Download one file */
        get: operations["downloadRestoreFile"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/filerestore/{sessionIdentifier}/files": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List a directory (absolute path inside the volume; no ..) */
        get: operations["listRestoreFiles"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/images": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Image exports and live NBD sessions on the recovery appliances */
        get: operations["listImages"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/images/exports/{exportIdentifier}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One image export */
        get: operations["getImageExport"];
        put?: never;
        post?: never;
        /** Delete an export's files */
        delete: operations["deleteImageExport"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/images/exports/{exportIdentifier}/files/{fileName}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Download a file of an export (one Range allowed); x-opencdp-sha256 carries the whole file's hash */
        get: operations["downloadImageExportFile"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/images/sessions/{sessionIdentifier}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Stop a live NBD session (its checkpoint is released) */
        delete: operations["stopImageSession"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/localsite": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This manager's site, its address and its certificate fingerprint */
        get: operations["getLocalSite"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This API as an OpenAPI 3.1 document */
        get: operations["getOpenApiDocument"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/peersites": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Paired sites */
        get: operations["listPeerSites"];
        put?: never;
        /** Pair with the manager at hostName:port using the token it generated (HTTPS with its certificate fingerprint; plain HTTP only to loopback) */
        post: operations["pairSite"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/peersites/{siteIdentifier}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Unpair a site (no group may use it) */
        delete: operations["unpairSite"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/peersites/connections": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Whether this manager is connected to each paired manager now */
        get: operations["listPeerConnections"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/peersites/generatetoken": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A one-time, expiring token the peer site presents to pair with this one (shown once; only its hash is kept) */
        post: operations["generatePairingToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/peersites/heartbeat": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Called by a paired manager every second: are you there? (authenticated by the pairing secret before the body is read) */
        post: operations["acceptPeerHeartbeat"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/peersites/pair": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Called by a peer manager: presents this site's pairing token (authenticates by the token) */
        post: operations["acceptPairing"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/peersites/sync": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Called by a paired manager: the definitions of the groups between the two sites (authenticated by the pairing secret before the body is read) */
        post: operations["acceptPeerSync"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/reports/recovery": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Recovery reports (paged; pageSize at most 1000; the total in x-total-count) */
        get: operations["listRecoveryReports"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/session": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Whose session this token is: user, role, expiry */
        get: operations["getSession"];
        put?: never;
        post?: never;
        /** Log out (ends this session) */
        delete: operations["logout"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/session/add": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Log in with Basic auth; the token comes back in the x-zerto-session header and the body (shown once). Failed logins back off per user and address */
        post: operations["login"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/session/password": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /** Change the password of this session's user (the current one is checked; the user's other sessions end) */
        put: operations["changeOwnPassword"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/tasks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Tasks, newest first */
        get: operations["listTasks"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/tasks/{taskIdentifier}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One task: {status: {state, progress}} */
        get: operations["getTask"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/tasks/{taskIdentifier}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Cancel a task that can be (isCancellable: a failover test, failover or move still starting): it stops at its next safe point, undoing what it did, and ends Stopped */
        post: operations["cancelTask"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List users */
        get: operations["listUsers"];
        put?: never;
        /** Add a user (passwords: at least 12 characters, not containing the user name, not a common password) */
        post: operations["addUser"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Delete a user and their sessions */
        delete: operations["deleteUser"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{name}/password": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /** Set a user's password (e.g. after a lock-out); their sessions end */
        put: operations["setUserPassword"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{name}/role": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /** Change a user's role (their live sessions take it at once; the last administrator stays one) */
        put: operations["setUserRole"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/virtualizationsites": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Sites whose platform this manager reaches through an appliance, with the platform kind (siteType) */
        get: operations["listVirtualizationSites"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/virtualizationsites/{siteIdentifier}/datastores": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The datastores of a site's platform */
        get: operations["listSiteDatastores"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/virtualizationsites/{siteIdentifier}/folders": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The folders of a site's platform (empty on platforms without VM folders) */
        get: operations["listSiteFolders"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/virtualizationsites/{siteIdentifier}/hosts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The hosts of a site's platform */
        get: operations["listSiteHosts"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/virtualizationsites/{siteIdentifier}/networks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The networks of a site's platform */
        get: operations["listSiteNetworks"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/virtualizationsites/{siteIdentifier}/vms": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The vms of a site's platform */
        get: operations["listSiteVMs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vms": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Protected VMs, one row per group they are in */
        get: operations["listVms"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/volumes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Protected volumes: one row per group their VM is in */
        get: operations["listVolumes"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List protection groups (filters; ?format=csv exports CSV) */
        get: operations["listVpgs"];
        put?: never;
        /** Create and protect a group in one call (the draft flow under /v1/vpgSettings does the same in steps) */
        post: operations["createVpg"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/{vpgIdentifier}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One protection group */
        get: operations["getVpg"];
        put?: never;
        post?: never;
        /** Delete a group, optionally keeping the recovery volumes (for preseeding) or forcing */
        delete: operations["deleteVpg"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/{vpgIdentifier}/checkpoints": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Checkpoints of the group, oldest first */
        get: operations["listCheckpoints"];
        put?: never;
        /** Add a tagged checkpoint */
        post: operations["addTaggedCheckpoint"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/{vpgIdentifier}/checkpoints/{checkpointIdentifier}/images": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Export a VM volume at the checkpoint as a disk file on the recovery appliance (raw, qcow2, vmdk-flat, vmdk-stream, vhdx); the task's result is the export */
        post: operations["exportCheckpointImage"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/{vpgIdentifier}/checkpoints/{checkpointIdentifier}/images/sessions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Serve a VM volume at the checkpoint read-only over NBD until stopped or idle; the checkpoint stays pinned meanwhile */
        post: operations["serveCheckpointImage"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/{vpgIdentifier}/checkpoints/stats": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Earliest and latest checkpoint */
        get: operations["getCheckpointStats"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/{vpgIdentifier}/CloneAbort": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Abort a running clone (refused: the recovery API cannot stop a clone once it runs) */
        post: operations["cloneAbort"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/{vpgIdentifier}/CloneStart": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Clone the group at a checkpoint onto a datastore */
        post: operations["cloneStart"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/{vpgIdentifier}/Failover": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Fail over live to a checkpoint (the latest when none is named) */
        post: operations["failover"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/{vpgIdentifier}/FailoverCommit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Commit the failover */
        post: operations["failoverCommit"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/{vpgIdentifier}/FailoverRollback": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Roll the failover back */
        post: operations["failoverRollback"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/{vpgIdentifier}/FailoverTest": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Start a failover test at a checkpoint (the latest when none is named) */
        post: operations["failoverTest"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/{vpgIdentifier}/FailoverTestStop": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Stop the failover test and record the verdict */
        post: operations["failoverTestStop"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/{vpgIdentifier}/filerestore": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Open a VM volume at a checkpoint read-only */
        post: operations["openFileRestore"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/{vpgIdentifier}/forcesync": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** forcesync replication of the group */
        post: operations["forceSyncVpg"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/{vpgIdentifier}/Move": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Planned move: shut down, final sync, checkpoint, recover */
        post: operations["move"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/{vpgIdentifier}/MoveCommit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Commit the move */
        post: operations["moveCommit"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/{vpgIdentifier}/MoveRollback": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Roll the move back */
        post: operations["moveRollback"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/{vpgIdentifier}/pause": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** pause replication of the group */
        post: operations["pauseVpg"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/{vpgIdentifier}/resume": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** resume replication of the group */
        post: operations["resumeVpg"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/checkpoints": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Add one tagged checkpoint to several groups at once (one timestamp) */
        post: operations["addTaggedCheckpoints"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/export.csv": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Every protection group as CSV */
        get: operations["exportVpgsCsv"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/failovercommitpolicies": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Commit policy codes */
        get: operations["listFailoverCommitPolicies"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/failovershutdownpolicies": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Shutdown policy codes */
        get: operations["listFailoverShutdownPolicies"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/priorities": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Priority codes */
        get: operations["listVpgPriorities"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/statuses": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Status codes */
        get: operations["listVpgStatuses"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgs/substatuses": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Sub-status codes (an open enum: newer codes may appear) */
        get: operations["listVpgSubStatuses"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgSettings": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The open settings drafts */
        get: operations["listVpgSettings"];
        put?: never;
        /** Start a settings draft (for a new group, or a copy of an existing one with vpgIdentifier) */
        post: operations["createVpgSettings"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgSettings/{vpgSettingsIdentifier}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The whole draft */
        get: operations["getVpgSettings"];
        put?: never;
        post?: never;
        /** Discard the draft */
        delete: operations["deleteVpgSettings"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgSettings/{vpgSettingsIdentifier}/basic": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The draft's basic */
        get: operations["getVpgSettingsBasic"];
        /** Replace the draft's basic */
        put: operations["putVpgSettingsBasic"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgSettings/{vpgSettingsIdentifier}/bootgroup": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The draft's bootgroup */
        get: operations["getVpgSettingsBootgroup"];
        /** Replace the draft's bootgroup */
        put: operations["putVpgSettingsBootgroup"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgSettings/{vpgSettingsIdentifier}/commit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Validate the draft and create or update the group */
        post: operations["commitVpgSettings"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgSettings/{vpgSettingsIdentifier}/journal": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The draft's journal */
        get: operations["getVpgSettingsJournal"];
        /** Replace the draft's journal */
        put: operations["putVpgSettingsJournal"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgSettings/{vpgSettingsIdentifier}/networks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The draft's networks */
        get: operations["getVpgSettingsNetworks"];
        /** Replace the draft's networks */
        put: operations["putVpgSettingsNetworks"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgSettings/{vpgSettingsIdentifier}/recovery": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The draft's recovery */
        get: operations["getVpgSettingsRecovery"];
        /** Replace the draft's recovery */
        put: operations["putVpgSettingsRecovery"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgSettings/{vpgSettingsIdentifier}/scripting": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The draft's scripting */
        get: operations["getVpgSettingsScripting"];
        /** Replace the draft's scripting */
        put: operations["putVpgSettingsScripting"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgSettings/{vpgSettingsIdentifier}/vms": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The draft's vms */
        get: operations["getVpgSettingsVms"];
        /** Replace the draft's vms */
        put: operations["putVpgSettingsVms"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgSettings/{vpgSettingsIdentifier}/vms/{vmIdentifier}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One VM of the draft: where it recovers (host, datastore; the group's defaults when absent) */
        get: operations["getVpgSettingsVm"];
        /** Replace where one VM recovers (host, datastore) */
        put: operations["putVpgSettingsVm"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgSettings/{vpgSettingsIdentifier}/vms/{vmIdentifier}/nics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The NIC mappings of one VM (live and test networks, re-IP) */
        get: operations["getVpgSettingsVmNics"];
        /** Replace the NIC mappings of one VM */
        put: operations["putVpgSettingsVmNics"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vpgSettings/{vpgSettingsIdentifier}/vms/{vmIdentifier}/volumes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The volumes of one VM as its platform reports them, with the datastore each recovers to */
        get: operations["getVpgSettingsVmVolumes"];
        /** Set the datastore one VM's volumes recover to (all on one datastore: a recovered VM's disks are placed together) */
        put: operations["putVpgSettingsVmVolumes"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/vras": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The appliances this manager drives */
        get: operations["listVras"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        Alert: {
            alertIdentifier: string;
            /** Format: date-time */
            cleared: string | null;
            description: string;
            isDismissed: boolean;
            /** @enum {unknown} */
            level: "warning" | "error";
            siteIdentifier: string | null;
            /** Format: date-time */
            turnedOn: string;
            type: string;
            vpgIdentifier: string | null;
        };
        Checkpoint: {
            checkpointIdentifier: string;
            seq: number;
            tag: string | null;
            /** Format: date-time */
            timeStamp: string;
            /** @enum {unknown} */
            type: "auto" | "tagged" | "vss";
        };
        CheckpointStats: {
            count: number;
            earliest: null | components["schemas"]["Checkpoint"];
            latest: null | components["schemas"]["Checkpoint"];
        };
        Datastore: {
            capacityInMB: number;
            datastoreIdentifier: string;
            datastoreName: string;
            freeInMB: number;
        };
        DraftSummary: {
            /** Format: date-time */
            createdAt: string;
            name: string | null;
            vpgIdentifier: string | null;
            vpgSettingsIdentifier: string;
        };
        /** @description Every failure: a code, a message, the offending input field when there is one, and what to do */
        Error: {
            error: string;
            field: string | null;
            hint?: string;
            message: string;
        };
        Event: {
            description: string;
            eventIdentifier: string;
            eventType: string;
            /** Format: date-time */
            occurredOn: string;
            user: string | null;
            vpgIdentifier: string | null;
        };
        FileEntry: {
            path: string;
            sizeBytes: number;
            /** @enum {unknown} */
            type: "file" | "directory" | "symlink" | "other";
        };
        Folder: {
            folderIdentifier: string;
            folderName: string;
            vmIdentifiers: string[];
        };
        Host: {
            hostIdentifier: string;
            hostName: string;
        };
        /** @description A checkpoint image exported as a disk file on the recovery appliance: its files (downloadable), bytes written and SHA-256 */
        ImageExport: {
            bytesWritten: number;
            checkpointIdentifier: string;
            /** Format: date-time */
            checkpointTimeStamp: string;
            /** Format: date-time */
            completed: string;
            dataBytes: number;
            /** @description qemu-img or native */
            engine: string;
            exportIdentifier: string;
            /** @description the file to open (for vmdk-flat, the descriptor) */
            file: string;
            files: {
                allocatedBytes: number;
                name: string;
                sha256: string;
                sizeInBytes: number;
            }[];
            /** @enum {unknown} */
            format: "raw" | "qcow2" | "vmdk-flat" | "vmdk-stream" | "vhdx";
            sectorSize: number;
            sha256: string;
            /** Format: date-time */
            started: string;
            virtualSizeInBytes: number;
            vmIdentifier: string;
            volumeIdentifier: string;
            vpgIdentifier: string;
        };
        ImageList: {
            exports: components["schemas"]["ImageExport"][];
            sessions: components["schemas"]["ImageSession"][];
        };
        /** @description A checkpoint image served live, read-only, over NBD; its checkpoint stays pinned until the session ends */
        ImageSession: {
            checkpointIdentifier: string;
            /** Format: date-time */
            checkpointTimeStamp: string;
            connections: number;
            exportName: string;
            idleTimeoutInSec: number;
            /** Format: date-time */
            lastActivity: string;
            /** @description nbd+unix:///<export>?socket=<path>, as qemu-img and qemu-nbd take it */
            nbdUri: string;
            sessionIdentifier: string;
            sizeInBytes: number;
            socketPath: string;
            /** Format: date-time */
            started: string;
            vmIdentifier: string;
            volumeIdentifier: string;
            vpgIdentifier: string;
        };
        InventoryVm: {
            hostIdentifier: string;
            nics: {
                ipv4: string | null;
                mac: string;
                networkIdentifier: string;
            }[];
            /** @enum {unknown} */
            powerState: "on" | "off" | "suspended";
            vmIdentifier: string;
            vmName: string;
            volumes: {
                name: string;
                sizeInMB: number;
                volumeIdentifier: string;
            }[];
        };
        LocalSite: {
            certificateFingerprint: string | null;
            hostName: string | null;
            /** Format: date-time */
            pairedAt: string | null;
            /** @enum {unknown} */
            role: "local";
            siteIdentifier: string;
            siteName: string;
            url: string | null;
        };
        Lookup: {
            name: string;
            value: number;
        };
        Network: {
            isolated: boolean;
            networkIdentifier: string;
            networkName: string;
        };
        PairAnswer: {
            secret: string;
            siteIdentifier: string;
            siteName: string;
        };
        /** @description A one-time token, shown once; only its hash is kept */
        PairingToken: {
            /** Format: date-time */
            expiresAt: string;
            token: string;
        };
        PeerConnection: {
            connected: boolean | null;
            /** Format: date-time */
            lastAnswerAt: string | null;
            siteIdentifier: string;
        };
        PeerHeartbeatAnswer: {
            at: number;
            siteIdentifier: string;
        };
        PeerSyncAnswer: {
            groups: number;
        };
        /** @description A recovery report: the operation, its checkpoint, every step with its outcome and detail (script output included), and the recovered VMs */
        Report: {
            checkpointIdentifier: string;
            /** Format: date-time */
            checkpointTimeStamp: string;
            /** Format: date-time */
            endTime: string;
            /** @enum {unknown} */
            recoveryType: "FailoverTest" | "Failover" | "Move" | "Clone";
            reportIdentifier: string;
            /** Format: date-time */
            startTime: string;
            /** @enum {unknown} */
            state: "Success" | "Fail";
            steps: {
                detail: string | null;
                /** Format: date-time */
                endTime: string;
                name: string;
                /** @enum {unknown} */
                result: "Success" | "Fail";
                /** Format: date-time */
                startTime: string;
            }[];
            summary: string | null;
            vms: {
                bootGroup: string | null;
                name: string;
                networkIdentifiers: string[];
                /** Format: date-time */
                poweredOnAt: string | null;
                recoveredVmIdentifier: string;
                sourceVmIdentifier: string;
            }[];
            vpgIdentifier: string;
            vpgName: string;
        };
        /** @description A new session; the token is shown once (also in the x-zerto-session header) */
        Session: {
            /** Format: date-time */
            expiresAt: string;
            /** @enum {unknown} */
            role: "viewer" | "operator" | "admin";
            sessionToken: string;
            user: string;
        };
        /** @description Whose session a token is */
        SessionInfo: {
            /** Format: date-time */
            createdAt: string;
            /** Format: date-time */
            expiresAt: string;
            /** @enum {unknown} */
            role: "viewer" | "operator" | "admin";
            user: string;
        };
        Site: {
            certificateFingerprint: string | null;
            hostName: string | null;
            /** Format: date-time */
            pairedAt: string | null;
            /** @enum {unknown} */
            role: "local" | "peer";
            siteIdentifier: string;
            siteName: string;
        };
        SiteDatastore: {
            capacityInMB: number;
            datastoreIdentifier: string;
            datastoreName: string;
            freeInMB: number;
            siteIdentifier: string;
        };
        /** @description A task: state 1 InProgress, 2 WaitingForUserInput, 3 Paused, 4 Failed, 5 Stopped, 6 Completed, 7 Cancelling */
        Task: {
            /** Format: date-time */
            completed: string | null;
            error: string | null;
            initiatedBy: string | null;
            isCancellable: boolean;
            /** @description what the task produced (a report id, the recovered VMs, …), or null */
            result: unknown;
            /** Format: date-time */
            started: string;
            status: {
                progress: number;
                state: number;
                stateName: string;
                step: string;
            };
            taskIdentifier: string;
            type: string;
            vpgIdentifier: string | null;
        };
        User: {
            /** Format: date-time */
            createdAt: string;
            name: string;
            /** @enum {unknown} */
            role: "viewer" | "operator" | "admin";
        };
        VirtualizationSite: {
            local: boolean;
            siteIdentifier: string;
            siteType: string | null;
        };
        /** @description A protected VM in one of its groups */
        VmRow: {
            actualRPO: number;
            journalHardLimit: number | null;
            journalHistoryInMinutes: number;
            journalUsedStorageMb: number;
            journalWarningThreshold: number | null;
            priority: number;
            protectedSiteIdentifier: string;
            recoverySiteIdentifier: string;
            status: number;
            subStatus: number;
            vmIdentifier: string;
            vmName: string | null;
            vpgIdentifier: string;
            vpgName: string;
        };
        /** @description A protected volume: one row per group its VM is in */
        Volume: {
            protectedSiteIdentifier: string;
            recoveryDatastoreIdentifier: string | null;
            recoverySiteIdentifier: string;
            sectorSize: number;
            sizeInMB: number;
            vmIdentifier: string;
            vmName: string | null;
            volumeIdentifier: string;
            volumeName: string;
            vpgIdentifier: string;
            vpgName: string;
        };
        /** @description A protection group with its evaluated status and figures (the anchor's VpgApi) */
        Vpg: {
            activeOperation: Record<string, never> | null;
            actualRPO: number;
            alertStatus: number;
            bitmapBytes: number;
            checkpointIntervalMs: number;
            configuredRpoSeconds: number;
            /** Format: date-time */
            createdAt: string;
            health: string;
            historyStatusApi: {
                actualHistoryInMinutes: number;
                configuredHistoryInMinutes: number;
                /** Format: date-time */
                earliestCheckpoint: string | null;
                status: string;
            };
            ioPs: number;
            lastTest: null | {
                success: boolean;
                summary: string | null;
                /** Format: date-time */
                time: string;
            };
            /** @enum {unknown} */
            lifecycle: "active" | "deleting" | "recovered";
            priority: number;
            protectedSiteIdentifier: string;
            provisionedStorageInMB: number;
            recoveryPlan: Record<string, never>;
            recoverySiteIdentifier: string;
            settings: {
                /** @default 5000 */
                checkpointIntervalMs: number;
                /** @default {} */
                journal: {
                    /**
                     * @description either {"mb": number > 0} or {"percent": number in (0, 100]}
                     * @default {
                     *       "mb": 153600
                     *     }
                     */
                    hardLimit: {
                        mb?: number;
                        percent?: number;
                    } & ({
                        mb: number;
                    } | {
                        percent: number;
                    });
                    /**
                     * @description either {"mb": number > 0} or {"percent": number in (0, 100]}
                     * @default {
                     *       "mb": 115200
                     *     }
                     */
                    warningThreshold: {
                        mb?: number;
                        percent?: number;
                    } & ({
                        mb: number;
                    } | {
                        percent: number;
                    });
                };
                /** @default 24 */
                journalHistoryHours: number;
                name: string;
                /**
                 * @default Medium
                 * @enum {unknown}
                 */
                priority: "Low" | "Medium" | "High";
                /** @default 10 */
                replicationPauseTimeMinutes: number;
                /** @default 300 */
                rpoTargetSeconds: number;
                /** @default true */
                useWanCompression: boolean;
            };
            status: number;
            statusName: string;
            statusReason: string;
            subStatus: number;
            subStatusName: string;
            syncTrigger: string | null;
            throughputInMB: number;
            usedStorageInMB: number;
            vmIdentifiers: string[];
            vmsCount: number;
            vpgIdentifier: string;
            vpgName: string;
            wanBytes: number;
            wanThroughputInMB: number;
        };
        Vra: {
            hostIdentifiers: string[] | null;
            linkAddress: string | null;
            local: boolean;
            reachable: boolean;
            recoveryRole: boolean;
            siteIdentifier: string;
            vraIdentifier: string;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    getMetrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Prometheus text exposition format */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listAlerts: {
        parameters: {
            query?: {
                includeCleared?: "true" | "false";
                isDismissed?: "true" | "false";
                level?: "warning" | "error";
                vpgIdentifier?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the alerts */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Alert"][];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getAlert: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                alertIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the alert */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Alert"];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    dismissAlert: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                alertIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": Record<string, never>;
            };
        };
        responses: {
            /** @description the action was accepted; poll GET /v1/tasks/{taskIdentifier} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    undismissAlert: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                alertIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": Record<string, never>;
            };
        };
        responses: {
            /** @description the action was accepted; poll GET /v1/tasks/{taskIdentifier} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listDatastores: {
        parameters: {
            query?: {
                siteIdentifier?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the datastores */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SiteDatastore"][];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listEvents: {
        parameters: {
            query?: {
                endDate?: string;
                eventType?: string;
                startDate?: string;
                vpgIdentifier?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the events */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Event"][];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    closeFileRestore: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                sessionIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description closed */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    downloadRestoreFile: {
        parameters: {
            query: {
                path: string;
            };
            header?: never;
            path: {
                sessionIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the file's bytes */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listRestoreFiles: {
        parameters: {
            query: {
                path: string;
            };
            header?: never;
            path: {
                sessionIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the directory's entries */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["FileEntry"][];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listImages: {
        parameters: {
            query?: {
                vpgIdentifier?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description exports and sessions of every reachable recovery appliance */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ImageList"];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getImageExport: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                exportIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the export */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ImageExport"];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteImageExport: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                exportIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description deleted */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    downloadImageExportFile: {
        parameters: {
            query?: never;
            header?: {
                /** @description one byte range: bytes=a-b, bytes=a- or bytes=-n */
                range?: string;
            };
            path: {
                exportIdentifier: string;
                fileName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the whole file */
            200: {
                headers: {
                    /** @description bytes: one Range may be asked for */
                    "accept-ranges"?: string;
                    /** @description bytes in this answer */
                    "content-length"?: number;
                    /** @description SHA-256 of the whole file (also of a partial answer), as the appliance computed it */
                    "x-opencdp-sha256"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                };
            };
            /** @description the asked byte range of the file */
            206: {
                headers: {
                    /** @description bytes: one Range may be asked for */
                    "accept-ranges"?: string;
                    /** @description bytes in this answer */
                    "content-length"?: number;
                    /** @description bytes start-end/size */
                    "content-range"?: string;
                    /** @description SHA-256 of the whole file (also of a partial answer), as the appliance computed it */
                    "x-opencdp-sha256"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    stopImageSession: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                sessionIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description stopped */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getLocalSite: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description this site */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LocalSite"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getOpenApiDocument: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the OpenAPI document */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, never>;
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listPeerSites: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the paired sites */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Site"][];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    pairSite: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description SHA-256 fingerprint of the peer manager's certificate (hex, colons allowed) */
                    certificateFingerprint?: string;
                    hostName: string;
                    port: number;
                    token: string;
                    /** @default true */
                    useHttps?: boolean;
                };
            };
        };
        responses: {
            /** @description the action was accepted; poll GET /v1/tasks/{taskIdentifier} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        siteIdentifier: string;
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the peer manager cannot be reached or its certificate does not match the pin */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    unpairSite: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                siteIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description unpaired */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listPeerConnections: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description each paired site and whether its manager answers */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PeerConnection"][];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    generatePairingToken: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": Record<string, never>;
            };
        };
        responses: {
            /** @description the token */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PairingToken"];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    acceptPeerHeartbeat: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    siteIdentifier: string;
                };
            };
        };
        responses: {
            /** @description this site and its clock */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PeerHeartbeatAnswer"];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    acceptPairing: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description SHA-256 fingerprint of the peer manager's certificate (hex, colons allowed) */
                    fingerprint?: string;
                    secret: string;
                    siteIdentifier: string;
                    siteName: string;
                    token: string;
                    url: string;
                };
            };
        };
        responses: {
            /** @description this site and the secret the peer presents from now on */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PairAnswer"];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    acceptPeerSync: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    deleted: string[];
                    groups: {
                        createdAt: number;
                        id: string;
                        /** @enum {unknown} */
                        lifecycle: "active" | "deleting" | "recovered";
                        name: string;
                        placement?: {
                            members: {
                                applianceId: string;
                                vmIds: string[];
                            }[];
                            recovery?: {
                                applianceId: string;
                                linkAddress: string;
                            };
                        };
                        plan: {
                            bootGroups?: {
                                delaySeconds: number;
                                name: string;
                                vmIds: string[];
                            }[];
                            datastoreId?: string;
                            hostId?: string;
                            nics?: {
                                /** Format: ipv4 */
                                liveIpv4?: string;
                                liveNetworkId: string;
                                nicIndex: number;
                                /** Format: ipv4 */
                                testIpv4?: string;
                                testNetworkId: string;
                                vmId: string;
                            }[];
                            scripts?: {
                                postRecovery?: {
                                    /** @description file name of an executable in the recovery appliance's scripts folder */
                                    command: string;
                                    parameters?: string[];
                                    timeoutSeconds: number;
                                };
                                preRecovery?: {
                                    /** @description file name of an executable in the recovery appliance's scripts folder */
                                    command: string;
                                    parameters?: string[];
                                    timeoutSeconds: number;
                                };
                            };
                            vms?: {
                                datastoreId?: string;
                                hostId?: string;
                                vmId: string;
                            }[];
                        };
                        protectedSiteId: string;
                        provisionedBytes: number;
                        recoverySiteId: string;
                        settings: Record<string, never>;
                        vmIds: string[];
                    }[];
                    siteIdentifier: string;
                };
            };
        };
        responses: {
            /** @description how many group definitions were taken */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PeerSyncAnswer"];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listRecoveryReports: {
        parameters: {
            query?: {
                endTime?: string;
                pageNumber?: string;
                pageSize?: string;
                recoveryType?: "Failover" | "FailoverTest" | "Move" | "Clone";
                startTime?: string;
                state?: "Success" | "Fail";
                vpgName?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the reports of the page */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Report"][];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getSession: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the session */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionInfo"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    logout: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description logged out */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    login: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the new session */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Session"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description too many failed logins: wait for Retry-After seconds */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    changeOwnPassword: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    currentPassword: string;
                    newPassword: string;
                };
            };
        };
        responses: {
            /** @description changed */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description too many failed logins: wait for Retry-After seconds */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listTasks: {
        parameters: {
            query?: {
                state?: string;
                type?: string;
                vpgIdentifier?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the tasks */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Task"][];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getTask: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the task */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Task"];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    cancelTask: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                taskIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": Record<string, never>;
            };
        };
        responses: {
            /** @description the task, now Cancelling */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Task"];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listUsers: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the users */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["User"][];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    addUser: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    name: string;
                    password: string;
                    /** @enum {unknown} */
                    role: "viewer" | "operator" | "admin";
                };
            };
        };
        responses: {
            /** @description the user was added */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["User"];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteUser: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description deleted */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    setUserPassword: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    newPassword: string;
                };
            };
        };
        responses: {
            /** @description set */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    setUserRole: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @enum {unknown} */
                    role: "viewer" | "operator" | "admin";
                };
            };
        };
        responses: {
            /** @description the user with the new role */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["User"];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listVirtualizationSites: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the sites */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VirtualizationSite"][];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listSiteDatastores: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                siteIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the datastores */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Datastore"][];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listSiteFolders: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                siteIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the folders */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Folder"][];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listSiteHosts: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                siteIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the hosts */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Host"][];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listSiteNetworks: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                siteIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the networks */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Network"][];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listSiteVMs: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                siteIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the vms */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["InventoryVm"][];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listVms: {
        parameters: {
            query?: {
                vmIdentifier?: string;
                vpgIdentifier?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the protected VMs */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VmRow"][];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listVolumes: {
        parameters: {
            query?: {
                protectedVmIdentifier?: string;
                vpgIdentifier?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the volumes */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Volume"][];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listVpgs: {
        parameters: {
            query?: {
                format?: "json" | "csv";
                name?: string;
                priority?: string;
                protectedSiteIdentifier?: string;
                /** @description platform kind of the site (fake, qemu, hyperv, vsphere, …), as GET /v1/virtualizationsites reports it */
                protectedSiteType?: string;
                recoverySiteIdentifier?: string;
                /** @description platform kind of the site (fake, qemu, hyperv, vsphere, …), as GET /v1/virtualizationsites reports it */
                recoverySiteType?: string;
                status?: string;
                subStatus?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the groups (CSV with format=csv) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vpg"][];
                    "text/csv": string;
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createVpg: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    protectedSiteIdentifier?: string;
                    recoveryPlan?: {
                        bootGroups?: {
                            delaySeconds: number;
                            name: string;
                            vmIds: string[];
                        }[];
                        datastoreId?: string;
                        hostId?: string;
                        nics?: {
                            /** Format: ipv4 */
                            liveIpv4?: string;
                            liveNetworkId: string;
                            nicIndex: number;
                            /** Format: ipv4 */
                            testIpv4?: string;
                            testNetworkId: string;
                            vmId: string;
                        }[];
                        scripts?: {
                            postRecovery?: {
                                /** @description file name of an executable in the recovery appliance's scripts folder */
                                command: string;
                                parameters?: string[];
                                timeoutSeconds: number;
                            };
                            preRecovery?: {
                                /** @description file name of an executable in the recovery appliance's scripts folder */
                                command: string;
                                parameters?: string[];
                                timeoutSeconds: number;
                            };
                        };
                        vms?: {
                            datastoreId?: string;
                            hostId?: string;
                            vmId: string;
                        }[];
                    };
                    recoverySiteIdentifier: string;
                    settings: {
                        /** @default 5000 */
                        checkpointIntervalMs?: number;
                        /** @default {} */
                        journal?: {
                            /**
                             * @description either {"mb": number > 0} or {"percent": number in (0, 100]}
                             * @default {
                             *       "mb": 153600
                             *     }
                             */
                            hardLimit?: {
                                mb?: number;
                                percent?: number;
                            } & ({
                                mb: number;
                            } | {
                                percent: number;
                            });
                            /**
                             * @description either {"mb": number > 0} or {"percent": number in (0, 100]}
                             * @default {
                             *       "mb": 115200
                             *     }
                             */
                            warningThreshold?: {
                                mb?: number;
                                percent?: number;
                            } & ({
                                mb: number;
                            } | {
                                percent: number;
                            });
                        };
                        /** @default 24 */
                        journalHistoryHours?: number;
                        name: string;
                        /**
                         * @default Medium
                         * @enum {unknown}
                         */
                        priority?: "Low" | "Medium" | "High";
                        /** @default 10 */
                        replicationPauseTimeMinutes?: number;
                        /** @default 300 */
                        rpoTargetSeconds?: number;
                        /** @default true */
                        useWanCompression?: boolean;
                    };
                    vmIdentifiers: string[];
                };
            };
        };
        responses: {
            /** @description the group is stored; its protection runs as a task */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        taskIdentifier: string;
                        vpgIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVpg: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the group */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vpg"];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteVpg: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @default false */
                    force?: boolean;
                    /** @default false */
                    keepRecoveryVolumes?: boolean;
                };
            };
        };
        responses: {
            /** @description the action was accepted; poll GET /v1/tasks/{taskIdentifier} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listCheckpoints: {
        parameters: {
            query?: {
                endDate?: string;
                startDate?: string;
            };
            header?: never;
            path: {
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the checkpoints */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Checkpoint"][];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    addTaggedCheckpoint: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    checkpointName: string;
                };
            };
        };
        responses: {
            /** @description the action was accepted; poll GET /v1/tasks/{taskIdentifier} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        checkpointIdentifier: string;
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    exportCheckpointImage: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                checkpointIdentifier: string;
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description file name without extension */
                    fileName?: string;
                    /** @enum {unknown} */
                    format: "raw" | "qcow2" | "vmdk-flat" | "vmdk-stream" | "vhdx";
                    vmIdentifier: string;
                    volumeIdentifier: string;
                };
            };
        };
        responses: {
            /** @description the export runs as a task: poll GET /v1/tasks/{taskIdentifier}; its result is the ImageExport */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the checkpoint was trimmed from the journal */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the appliance does not offer this */
            501: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    serveCheckpointImage: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                checkpointIdentifier: string;
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    idleTimeoutInSec?: number;
                    vmIdentifier: string;
                    volumeIdentifier: string;
                };
            };
        };
        responses: {
            /** @description the session is open: the ImageSession's fields with the task that records it */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        checkpointIdentifier: string;
                        /** Format: date-time */
                        checkpointTimeStamp: string;
                        connections: number;
                        exportName: string;
                        idleTimeoutInSec: number;
                        /** Format: date-time */
                        lastActivity: string;
                        /** @description nbd+unix:///<export>?socket=<path>, as qemu-img and qemu-nbd take it */
                        nbdUri: string;
                        sessionIdentifier: string;
                        sizeInBytes: number;
                        socketPath: string;
                        /** Format: date-time */
                        started: string;
                        taskIdentifier: string;
                        vmIdentifier: string;
                        volumeIdentifier: string;
                        vpgIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the checkpoint was trimmed from the journal */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the appliance does not offer this */
            501: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getCheckpointStats: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description earliest, latest and how many */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CheckpointStats"];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    cloneAbort: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": Record<string, never>;
            };
        };
        responses: {
            /** @description the action was accepted; poll GET /v1/tasks/{taskIdentifier} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the checkpoint was trimmed from the journal */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    cloneStart: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description alias of checkpointIdentifier */
                    checkpointId?: string;
                    checkpointIdentifier?: string;
                    datastoreIdentifier?: string;
                    vmIdentifiers?: string[];
                };
            };
        };
        responses: {
            /** @description the action was accepted; poll GET /v1/tasks/{taskIdentifier} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the checkpoint was trimmed from the journal */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    failover: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description alias of checkpointIdentifier */
                    checkpointId?: string;
                    checkpointIdentifier?: string;
                    /**
                     * @description 0 Rollback, 1 Commit, 2 None (wait for the user)
                     * @default 2
                     * @enum {unknown}
                     */
                    commitPolicy?: 0 | 1 | 2;
                    /**
                     * @description seconds before the commit policy applies
                     * @default 0
                     */
                    commitPolicyTimeout?: number;
                    /** @default false */
                    isReverseProtection?: boolean;
                    /**
                     * @description 0 None, 1 Shutdown, 2 ForceShutdown
                     * @default 0
                     * @enum {unknown}
                     */
                    shutdownPolicy?: 0 | 1 | 2;
                    /** @default 0 */
                    timeToWaitBeforeShutdownInSec?: number;
                    vmIdentifiers?: string[];
                };
            };
        };
        responses: {
            /** @description the action was accepted; poll GET /v1/tasks/{taskIdentifier} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the checkpoint was trimmed from the journal */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    failoverCommit: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    isReverseProtection?: boolean;
                };
            };
        };
        responses: {
            /** @description the action was accepted; poll GET /v1/tasks/{taskIdentifier} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the checkpoint was trimmed from the journal */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    failoverRollback: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": Record<string, never>;
            };
        };
        responses: {
            /** @description the action was accepted; poll GET /v1/tasks/{taskIdentifier} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the checkpoint was trimmed from the journal */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    failoverTest: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description alias of checkpointIdentifier */
                    checkpointId?: string;
                    checkpointIdentifier?: string;
                    vmIdentifiers?: string[];
                };
            };
        };
        responses: {
            /** @description the action was accepted; poll GET /v1/tasks/{taskIdentifier} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the checkpoint was trimmed from the journal */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    failoverTestStop: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @default true */
                    failoverTestSuccess?: boolean;
                    failoverTestSummary?: string;
                };
            };
        };
        responses: {
            /** @description the action was accepted; poll GET /v1/tasks/{taskIdentifier} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the checkpoint was trimmed from the journal */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    openFileRestore: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @description alias of checkpointIdentifier */
                    checkpointId?: string;
                    checkpointIdentifier?: string;
                    vmIdentifier: string;
                    volumeIdentifier: string;
                };
            };
        };
        responses: {
            /** @description the action was accepted; poll GET /v1/tasks/{taskIdentifier} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        sessionIdentifier: string;
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the checkpoint was trimmed from the journal */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    forceSyncVpg: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": Record<string, never>;
            };
        };
        responses: {
            /** @description the action was accepted; poll GET /v1/tasks/{taskIdentifier} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    move: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /**
                     * @default 2
                     * @enum {unknown}
                     */
                    commitPolicy?: 0 | 1 | 2;
                    /** @default 0 */
                    commitPolicyTimeout?: number;
                    /**
                     * @description go on when the pre-recovery script fails (default: the move fails before anything is shut down)
                     * @default false
                     */
                    continueOnPreScriptFailure?: boolean;
                    /** @default false */
                    forceShutdown?: boolean;
                    /** @default false */
                    keepSourceVms?: boolean;
                    /** @default false */
                    reverseProtection?: boolean;
                };
            };
        };
        responses: {
            /** @description the action was accepted; poll GET /v1/tasks/{taskIdentifier} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the checkpoint was trimmed from the journal */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    moveCommit: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    keepSourceVms?: boolean;
                    reverseProtection?: boolean;
                };
            };
        };
        responses: {
            /** @description the action was accepted; poll GET /v1/tasks/{taskIdentifier} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the checkpoint was trimmed from the journal */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    moveRollback: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": Record<string, never>;
            };
        };
        responses: {
            /** @description the action was accepted; poll GET /v1/tasks/{taskIdentifier} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the checkpoint was trimmed from the journal */
            410: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    pauseVpg: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": Record<string, never>;
            };
        };
        responses: {
            /** @description the action was accepted; poll GET /v1/tasks/{taskIdentifier} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    resumeVpg: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": Record<string, never>;
            };
        };
        responses: {
            /** @description the action was accepted; poll GET /v1/tasks/{taskIdentifier} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    addTaggedCheckpoints: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    checkpointName: string;
                    vpgIdentifiers: string[];
                };
            };
        };
        responses: {
            /** @description the action was accepted; poll GET /v1/tasks/{taskIdentifier} */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** @description checkpoint id per group id */
                        checkpointIdentifiers: {
                            [key: string]: string;
                        };
                        taskIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    exportVpgsCsv: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the groups as RFC 4180 CSV */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/csv": string;
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listFailoverCommitPolicies: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the codes and their names */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Lookup"][];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listFailoverShutdownPolicies: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the codes and their names */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Lookup"][];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listVpgPriorities: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the codes and their names */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Lookup"][];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listVpgStatuses: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the codes and their names */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Lookup"][];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listVpgSubStatuses: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the codes and their names */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Lookup"][];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listVpgSettings: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the drafts */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DraftSummary"][];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createVpgSettings: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    vpgIdentifier?: string;
                };
            };
        };
        responses: {
            /** @description the draft was opened */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        vpgSettingsIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVpgSettings: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the draft */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        basic: {
                            checkpointIntervalInMs?: number;
                            journalHistoryInHours?: number;
                            name?: string;
                            /** @enum {unknown} */
                            priority?: 0 | 1 | 2;
                            protectedSiteIdentifier?: string;
                            recoverySiteIdentifier?: string;
                            replicationPauseTimeInMinutes?: number;
                            rpoInSeconds?: number;
                            testIntervalInMinutes?: number;
                            useWanCompression?: boolean;
                        };
                        bootgroup: {
                            bootGroups?: {
                                delayInSeconds: number;
                                name: string;
                                vmIdentifiers: string[];
                            }[];
                        };
                        journal: {
                            datastoreIdentifier?: string;
                            limitation?: {
                                hardLimitInMB?: number;
                                hardLimitInPercent?: number;
                                warningThresholdInMB?: number;
                                warningThresholdInPercent?: number;
                            };
                        };
                        networks: {
                            nics?: {
                                /** Format: ipv4 */
                                liveIpv4?: string;
                                liveNetworkIdentifier: string;
                                nicIndex: number;
                                /** Format: ipv4 */
                                testIpv4?: string;
                                testNetworkIdentifier: string;
                                vmIdentifier: string;
                            }[];
                        };
                        recovery: {
                            defaultDatastoreIdentifier?: string;
                            defaultHostIdentifier?: string;
                        };
                        scripting: {
                            postRecovery?: {
                                /** @description file name of an executable in the recovery appliance's scripts folder (no path) */
                                command: string;
                                parameters?: string[];
                                timeoutInSeconds: number;
                            };
                            preRecovery?: {
                                /** @description file name of an executable in the recovery appliance's scripts folder (no path) */
                                command: string;
                                parameters?: string[];
                                timeoutInSeconds: number;
                            };
                        };
                        vms: {
                            recoveryDatastoreIdentifier?: string;
                            recoveryHostIdentifier?: string;
                            vmIdentifier: string;
                        }[];
                        vpgIdentifier: string | null;
                        vpgSettingsIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteVpgSettings: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description discarded */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVpgSettingsBasic: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the basic part */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        checkpointIntervalInMs?: number;
                        journalHistoryInHours?: number;
                        name?: string;
                        /** @enum {unknown} */
                        priority?: 0 | 1 | 2;
                        protectedSiteIdentifier?: string;
                        recoverySiteIdentifier?: string;
                        replicationPauseTimeInMinutes?: number;
                        rpoInSeconds?: number;
                        testIntervalInMinutes?: number;
                        useWanCompression?: boolean;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    putVpgSettingsBasic: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    checkpointIntervalInMs?: number;
                    journalHistoryInHours?: number;
                    name?: string;
                    /** @enum {unknown} */
                    priority?: 0 | 1 | 2;
                    protectedSiteIdentifier?: string;
                    recoverySiteIdentifier?: string;
                    replicationPauseTimeInMinutes?: number;
                    rpoInSeconds?: number;
                    testIntervalInMinutes?: number;
                    useWanCompression?: boolean;
                };
            };
        };
        responses: {
            /** @description the basic part as stored */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        checkpointIntervalInMs?: number;
                        journalHistoryInHours?: number;
                        name?: string;
                        /** @enum {unknown} */
                        priority?: 0 | 1 | 2;
                        protectedSiteIdentifier?: string;
                        recoverySiteIdentifier?: string;
                        replicationPauseTimeInMinutes?: number;
                        rpoInSeconds?: number;
                        testIntervalInMinutes?: number;
                        useWanCompression?: boolean;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVpgSettingsBootgroup: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the bootgroup part */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        bootGroups?: {
                            delayInSeconds: number;
                            name: string;
                            vmIdentifiers: string[];
                        }[];
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    putVpgSettingsBootgroup: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    bootGroups?: {
                        delayInSeconds: number;
                        name: string;
                        vmIdentifiers: string[];
                    }[];
                };
            };
        };
        responses: {
            /** @description the bootgroup part as stored */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        bootGroups?: {
                            delayInSeconds: number;
                            name: string;
                            vmIdentifiers: string[];
                        }[];
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    commitVpgSettings: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": Record<string, never>;
            };
        };
        responses: {
            /** @description the group's task */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        taskIdentifier: string;
                        vpgIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description conflicts with the current state (e.g. a recovery operation runs on the group); nothing was changed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVpgSettingsJournal: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the journal part */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        datastoreIdentifier?: string;
                        limitation?: {
                            hardLimitInMB?: number;
                            hardLimitInPercent?: number;
                            warningThresholdInMB?: number;
                            warningThresholdInPercent?: number;
                        };
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    putVpgSettingsJournal: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    datastoreIdentifier?: string;
                    limitation?: {
                        hardLimitInMB?: number;
                        hardLimitInPercent?: number;
                        warningThresholdInMB?: number;
                        warningThresholdInPercent?: number;
                    };
                };
            };
        };
        responses: {
            /** @description the journal part as stored */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        datastoreIdentifier?: string;
                        limitation?: {
                            hardLimitInMB?: number;
                            hardLimitInPercent?: number;
                            warningThresholdInMB?: number;
                            warningThresholdInPercent?: number;
                        };
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVpgSettingsNetworks: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the networks part */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        nics?: {
                            /** Format: ipv4 */
                            liveIpv4?: string;
                            liveNetworkIdentifier: string;
                            nicIndex: number;
                            /** Format: ipv4 */
                            testIpv4?: string;
                            testNetworkIdentifier: string;
                            vmIdentifier: string;
                        }[];
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    putVpgSettingsNetworks: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    nics?: {
                        /** Format: ipv4 */
                        liveIpv4?: string;
                        liveNetworkIdentifier: string;
                        nicIndex: number;
                        /** Format: ipv4 */
                        testIpv4?: string;
                        testNetworkIdentifier: string;
                        vmIdentifier: string;
                    }[];
                };
            };
        };
        responses: {
            /** @description the networks part as stored */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        nics?: {
                            /** Format: ipv4 */
                            liveIpv4?: string;
                            liveNetworkIdentifier: string;
                            nicIndex: number;
                            /** Format: ipv4 */
                            testIpv4?: string;
                            testNetworkIdentifier: string;
                            vmIdentifier: string;
                        }[];
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVpgSettingsRecovery: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the recovery part */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        defaultDatastoreIdentifier?: string;
                        defaultHostIdentifier?: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    putVpgSettingsRecovery: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    defaultDatastoreIdentifier?: string;
                    defaultHostIdentifier?: string;
                };
            };
        };
        responses: {
            /** @description the recovery part as stored */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        defaultDatastoreIdentifier?: string;
                        defaultHostIdentifier?: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVpgSettingsScripting: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the scripting part */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        postRecovery?: {
                            /** @description file name of an executable in the recovery appliance's scripts folder (no path) */
                            command: string;
                            parameters?: string[];
                            timeoutInSeconds: number;
                        };
                        preRecovery?: {
                            /** @description file name of an executable in the recovery appliance's scripts folder (no path) */
                            command: string;
                            parameters?: string[];
                            timeoutInSeconds: number;
                        };
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    putVpgSettingsScripting: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    postRecovery?: {
                        /** @description file name of an executable in the recovery appliance's scripts folder (no path) */
                        command: string;
                        parameters?: string[];
                        timeoutInSeconds: number;
                    };
                    preRecovery?: {
                        /** @description file name of an executable in the recovery appliance's scripts folder (no path) */
                        command: string;
                        parameters?: string[];
                        timeoutInSeconds: number;
                    };
                };
            };
        };
        responses: {
            /** @description the scripting part as stored */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        postRecovery?: {
                            /** @description file name of an executable in the recovery appliance's scripts folder (no path) */
                            command: string;
                            parameters?: string[];
                            timeoutInSeconds: number;
                        };
                        preRecovery?: {
                            /** @description file name of an executable in the recovery appliance's scripts folder (no path) */
                            command: string;
                            parameters?: string[];
                            timeoutInSeconds: number;
                        };
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVpgSettingsVms: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the vms part */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        recoveryDatastoreIdentifier?: string;
                        recoveryHostIdentifier?: string;
                        vmIdentifier: string;
                    }[];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    putVpgSettingsVms: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    recoveryDatastoreIdentifier?: string;
                    recoveryHostIdentifier?: string;
                    vmIdentifier: string;
                }[];
            };
        };
        responses: {
            /** @description the vms part as stored */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        recoveryDatastoreIdentifier?: string;
                        recoveryHostIdentifier?: string;
                        vmIdentifier: string;
                    }[];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVpgSettingsVm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vmIdentifier: string;
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the VM */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        recoveryDatastoreIdentifier?: string;
                        recoveryHostIdentifier?: string;
                        vmIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    putVpgSettingsVm: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vmIdentifier: string;
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    recoveryDatastoreIdentifier?: string;
                    recoveryHostIdentifier?: string;
                };
            };
        };
        responses: {
            /** @description the VM as stored */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        recoveryDatastoreIdentifier?: string;
                        recoveryHostIdentifier?: string;
                        vmIdentifier: string;
                    };
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVpgSettingsVmNics: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vmIdentifier: string;
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the NICs */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** Format: ipv4 */
                        liveIpv4?: string;
                        liveNetworkIdentifier: string;
                        nicIndex: number;
                        /** Format: ipv4 */
                        testIpv4?: string;
                        testNetworkIdentifier: string;
                    }[];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    putVpgSettingsVmNics: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vmIdentifier: string;
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** Format: ipv4 */
                    liveIpv4?: string;
                    liveNetworkIdentifier: string;
                    nicIndex: number;
                    /** Format: ipv4 */
                    testIpv4?: string;
                    testNetworkIdentifier: string;
                }[];
            };
        };
        responses: {
            /** @description the NICs as stored */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        /** Format: ipv4 */
                        liveIpv4?: string;
                        liveNetworkIdentifier: string;
                        nicIndex: number;
                        /** Format: ipv4 */
                        testIpv4?: string;
                        testNetworkIdentifier: string;
                    }[];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVpgSettingsVmVolumes: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vmIdentifier: string;
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the volumes */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        datastoreIdentifier: string | null;
                        sizeInMB: number;
                        volumeIdentifier: string;
                        volumeName: string;
                    }[];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    putVpgSettingsVmVolumes: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                vmIdentifier: string;
                vpgSettingsIdentifier: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    datastoreIdentifier: string;
                    volumeIdentifier: string;
                }[];
            };
        };
        responses: {
            /** @description the volumes as they now recover */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        datastoreIdentifier: string | null;
                        sizeInMB: number;
                        volumeIdentifier: string;
                        volumeName: string;
                    }[];
                };
            };
            /** @description invalid input: the field is named; nothing was changed */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the session's role may not do this */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description no such object (group, task, checkpoint, …) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is larger than 1 MiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description the request body is not JSON */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description an appliance this manager needs cannot be reached */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listVras: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description the appliances */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Vra"][];
                };
            };
            /** @description no session, a wrong or expired token (or, for peers, a wrong pairing secret) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description any other failure, with the same error body */
            default: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
}
