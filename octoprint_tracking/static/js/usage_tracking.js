/*
 * View models of Anonymous Usage Tracking: the first-run wizard and the settings pane.
 * Every API call goes through the client component OctoPrint.plugins.usage_tracking.
 */
$(function () {
    function client() {
        return OctoPrint.plugins.usage_tracking;
    }

    // Catalog meanings and titles are English in the API's answers; the German (or
    // any) catalog holds them because catalog.py marks them with N_. A field the
    // catalog flags as on/off only gets that note, as in templates/snippets/catalog.jinja2.
    function translateMeaning(text, onOff) {
        if (!text) return "";
        return gettext(text) + (onOff ? " (" + gettext("on/off only") + ")" : "");
    }

    function notifyError(text) {
        new PNotify({
            title: gettext("Anonymous Usage Tracking"),
            text: text,
            type: "error",
            hide: false
        });
    }

    function localTime(value) {
        if (!value) return "-";
        const date = new Date(value);
        return isNaN(date.getTime()) ? String(value) : date.toLocaleString();
    }

    // Reports go by their names on the wire; the deletion request is none, and has a
    // label (as in the CLI's "sent" and "status").
    function reportName(name) {
        return name === "deletion_request" ? gettext("Deletion request") : name;
    }

    function fieldsText(fields) {
        return _.map(fields || {}, function (v, k) {
            return k + "=" + v;
        }).join(", ");
    }

    // The labels of the server's fields, rendered by the settings template from
    // core/server_view.py (one place, translated there): the known ones in the
    // reference collector's order, then the catalog's meanings for fields another
    // server may add. A key neither names is shown as it is: it is the server's word.
    function serverLabels() {
        const known = [];
        const labels = {};
        $("#usage_tracking_server_data_labels li").each(function () {
            const key = $(this).attr("data-key");
            labels[key] = $(this).text();
            if ($(this).attr("data-known")) known.push(key);
        });
        return {known: known, labels: labels};
    }

    // The server's document made readable. Nothing in it is trusted to have a shape:
    // another server may send any JSON object, and the text bindings escape it.
    function serverDataView(data) {
        const environment = _.isObject(data.environment) ? data.environment : {};
        const names = serverLabels();
        const keys = names.known.concat(
            _.filter(_.keys(environment), function (key) {
                return !_.contains(names.known, key) && key !== "plugins";
            })
        );
        const value = function (v) {
            if (_.isArray(v)) v = v.join(", ");
            return v === null || v === undefined || v === "" ? "-" : String(v);
        };
        const list = function (v) {
            return _.isArray(v) ? _.filter(v, _.isObject) : [];
        };
        return {
            facts: {
                first_seen: localTime(data.first_seen),
                last_seen: localTime(data.last_seen),
                last_print: localTime(data.last_print)
            },
            environment: _.map(keys, function (key) {
                return {
                    key: key,
                    label: names.labels[key] || key,
                    value: value(environment[key])
                };
            }),
            plugins: _.map(list(environment.plugins), function (plugin) {
                return {id: value(plugin.id), version: value(plugin.version)};
            }),
            days: _.map(list(data.days), function (day) {
                const prints = _.isObject(day.prints) ? day.prints : {};
                const hours = _.isArray(day.active_hours) ? day.active_hours : [];
                return {
                    day: value(day.day),
                    version: value(day.version),
                    hoursCount: _.sprintf(gettext("%(count)s h"), {count: hours.length}),
                    hours: hours.join(", "),
                    started: value(prints.started),
                    done: value(prints.done),
                    failed: value(prints.failed),
                    cancelled: value(prints.cancelled)
                };
            }),
            events: _.map(list(data.events), function (event) {
                return {
                    when: localTime(event.ts),
                    event: value(event.event),
                    fieldsText: fieldsText(event.fields)
                };
            })
        };
    }

    // What the owner is told for each answer (delivery/protocol.py: ServerData).
    function serverDataMessage(result) {
        switch (result.state) {
            case "ok":
                return _.sprintf(gettext("The server's answer at %(time)s:"), {
                    time: new Date().toLocaleTimeString()
                });
            case "unknown":
                return gettext("The server holds nothing about this instance.");
            case "unsupported":
                return gettext("This server does not offer a view of stored data.");
            case "limited":
                return result.retry_after
                    ? _.sprintf(
                          gettext(
                              "The server was asked too often. Try again in %(seconds)s seconds."
                          ),
                          {seconds: Math.ceil(result.retry_after)}
                      )
                    : gettext("The server was asked too often. Try again later.");
            case "unreachable":
                return result.status
                    ? _.sprintf(
                          gettext(
                              "The server could not answer (HTTP %(status)s). Try again later."
                          ),
                          {status: result.status}
                      )
                    : gettext("The server could not be reached. Try again later.");
            case "off":
                return result.reason === "server_not_allowed"
                    ? gettext(
                          "Nothing is asked of the configured tracking server: it is not allowed."
                      )
                    : gettext("Tracking is off: nothing is asked of the server.");
        }
        return gettext("The server's answer could not be read.");
    }

    // Where the owner's latest deletion request stands (delivery/files.py:
    // deletion_state), as the CLI's status says it. While nothing at all may leave the
    // machine (a kill switch, a policy that cannot be used), a request waits.
    function deletionMessage(deletion, status) {
        if (!deletion) return "";
        const policy = (status && status.policy) || {};
        const values = {
            time:
                deletion.requested || deletion.time
                    ? new Date(
                          (deletion.requested || deletion.time) * 1000
                      ).toLocaleString()
                    : "-",
            status: deletion.status
        };
        switch (deletion.state) {
            case "requested":
                if (status && status.kill_switch) {
                    return _.sprintf(
                        gettext(
                            "Deletion requested at %(time)s. It waits: nothing at all is sent while the environment variable %(variable)s is set."
                        ),
                        _.extend({variable: status.kill_switch}, values)
                    );
                }
                if (policy.problem) {
                    return _.sprintf(
                        gettext(
                            "Deletion requested at %(time)s. It waits: nothing at all is sent until the policy of this machine can be used."
                        ),
                        values
                    );
                }
                return _.sprintf(
                    gettext(
                        "Deletion requested at %(time)s: the tracking server is asked to delete what it holds about this instance, again and again until it answers."
                    ),
                    values
                );
            case "confirmed":
                return _.sprintf(
                    gettext(
                        "Deletion confirmed by the server at %(time)s: it holds nothing more about this instance."
                    ),
                    values
                );
            case "unsupported":
                return _.sprintf(
                    gettext(
                        "The server does not offer deletion (HTTP %(status)s, %(time)s). It keeps what it holds until its own retention drops it."
                    ),
                    values
                );
            case "rejected":
                return _.sprintf(
                    gettext(
                        "The server refused the deletion request (HTTP %(status)s, %(time)s)."
                    ),
                    values
                );
        }
        return "";
    }

    function UsageTrackingWizardViewModel(parameters) {
        const self = this;
        self.settingsViewModel = parameters[0];

        self.active = ko.observable(false);
        // "enabled", "disabled" or "declined" once the owner decided in this wizard.
        self.decision = ko.observable();
        self.accepted = ko.observable(0);
        self.upgrade = ko.observable(false);
        self.declineNew = ko.observable(false);
        self.forget = ko.observable(false);
        // "And ask the server to delete" comes with "off" only where the server holds
        // something (the server's one rule, actions.deletion_address).
        self.canAskDeletion = ko.observable(false);
        self.forgetRequested = ko.observable(false);
        self.decided = ko.pureComputed(function () {
            return !!self.decision();
        });
        self.required = false;

        self.isNew = function (since) {
            return since > self.accepted();
        };

        self.onWizardDetails = function (response) {
            const wizard = (response && response.usage_tracking) || {};
            const details = wizard.details || {};
            self.required = !!wizard.required && !wizard.ignored;
            self.accepted(details.accepted || 0);
            self.declineNew(!!details.decline_new);
            self.canAskDeletion(!!details.can_ask_deletion);
            // Already enabled and still asked: the consent version rose, so only
            // what is new is shown, with Accept or Decline.
            self.upgrade(details.enabled === true);
        };

        self._decide = function (call, decision) {
            self.active(true);
            return call()
                .done(function (status) {
                    const deletion =
                        status && status.delivery && status.delivery.deletion;
                    self.forgetRequested(!!deletion && deletion.state === "requested");
                    self.decision(decision);
                })
                .fail(function () {
                    notifyError(
                        gettext(
                            "Your decision on anonymous usage tracking could not be saved."
                        )
                    );
                })
                .always(function () {
                    self.active(false);
                });
        };

        self.enable = function () {
            self._decide(function () {
                return client().decide(true, {decline_new: self.declineNew()});
            }, "enabled");
        };
        self.accept = self.enable;

        self.disable = function () {
            self._decide(function () {
                return client().decide(false, {
                    forget: self.canAskDeletion() && self.forget(),
                    decline_new: self.declineNew()
                });
            }, "disabled");
        };

        self.decline = function () {
            self._decide(function () {
                return client().declineUpdate({decline_new: self.declineNew()});
            }, "declined");
        };

        self._decisionNeeded = function () {
            showMessageDialog({
                title: gettext("Please set up anonymous usage tracking"),
                message: gettext(
                    "Please choose whether to enable or disable anonymous usage tracking before you continue."
                )
            });
        };

        self.onBeforeWizardTabChange = function (next, current) {
            if (
                !self.required ||
                !current ||
                !_.startsWith(current, "wizard_plugin_usage_tracking") ||
                self.decided()
            ) {
                return true;
            }
            self._decisionNeeded();
            return false;
        };

        self.onBeforeWizardFinish = function () {
            if (!self.required || self.decided()) {
                return true;
            }
            self._decisionNeeded();
            return false;
        };
    }

    function UsageTrackingSettingsViewModel(parameters) {
        const self = this;
        self.settingsViewModel = parameters[0];
        self.loginState = parameters[1];

        self.settings = undefined;
        self.status = ko.observable();
        self.preview = ko.observableArray([]);
        self.previewShown = ko.observable(false);
        self.journal = ko.observableArray([]);
        self.webuiLoadSent = false;
        self.serverDataAsking = ko.observable(false);
        self.serverDataMessage = ko.observable("");
        self.serverDataProblem = ko.observable(false);
        self.serverDataView = ko.observable();

        self.killSwitch = ko.pureComputed(function () {
            const status = self.status();
            return (status && status.kill_switch) || "";
        });

        self.deletionState = ko.pureComputed(function () {
            const status = self.status();
            const deletion = status && status.delivery && status.delivery.deletion;
            return (deletion && deletion.state) || "";
        });
        self.deletion = ko.pureComputed(function () {
            const status = self.status();
            return deletionMessage(
                status && status.delivery && status.delivery.deletion,
                status
            );
        });
        self.deletionCss = ko.pureComputed(function () {
            return {
                requested: "alert-info",
                confirmed: "alert-success",
                unsupported: "alert-error",
                rejected: "alert-error"
            }[self.deletionState()];
        });

        // "And ask the server to delete" comes with "off", where the server holds
        // something about this instance (the server's one rule, as in the wizard and
        // the CLI: actions.deletion_address).
        self.canAskDeletion = ko.pureComputed(function () {
            const status = self.status();
            return (
                !!self.settings &&
                !self.settings.enabled() &&
                !!status &&
                status.can_ask_deletion === true
            );
        });

        self.lastProblem = ko.pureComputed(function () {
            const status = self.status();
            const problem = status && status.delivery && status.delivery.last_problem;
            if (!problem) return "";
            return _.sprintf(gettext("%(report)s at %(time)s: %(answer)s"), {
                report: reportName(problem.report),
                time: new Date(problem.time * 1000).toLocaleString(),
                answer: problem.status
                    ? _.sprintf(gettext("the server answered HTTP %(status)s"), {
                          status: problem.status
                      })
                    : gettext("no answer from the server")
            });
        });

        self.previewButtonText = ko.pureComputed(function () {
            return self.previewShown()
                ? gettext("Hide preview")
                : gettext("Show preview");
        });

        self.onBeforeBinding = function () {
            self.settings = self.settingsViewModel.settings.plugins.usage_tracking;
        };

        // webui_load, once per page load and only for a logged-in user (the API is
        // protected). The server's consent gate drops it unless tracking and its
        // switch are on, so nothing leaves while tracking is off.
        self.onUserLoggedIn = function () {
            if (self.webuiLoadSent) return;
            self.webuiLoadSent = true;
            const browser = OctoPrint.coreui.browser || {};
            client().track("webui_load", {
                browser_name: browser.browser_name,
                browser_version: browser.browser_version,
                os_name: browser.os_name,
                os_version: browser.os_version
            });
        };

        self.onDataUpdaterPluginMessage = function (plugin, data) {
            if (plugin !== "usage_tracking" || !data) return;
            if (data.type === "locked_refused") {
                // Worded once (actions.LOCKED), rendered in the owner's language by
                // the settings template.
                notifyError(
                    _.map(data.settings, function (key) {
                        return $(
                            '.usage_tracking_locked_message[data-setting="' + key + '"]'
                        )
                            .first()
                            .text();
                    }).join(" ")
                );
                self.settingsViewModel.requestData();
            }
            if (data.type === "server_refused") {
                // Every open page gets this message, whatever its language: the
                // rule is worded (and translated) in the page, not sent by the server.
                // The rule's text comes from the settings template (core/address.py's
                // SERVER_RULE, translated there).
                notifyError(
                    gettext("The new tracking server was refused.") +
                        " " +
                        $("#usage_tracking_server_rule").text()
                );
            }
        };

        self.onSettingsShown = function () {
            self.refresh();
        };

        self.refresh = function () {
            self.loadStatus();
            self.loadJournal();
        };

        self.onSettingsHidden = function () {
            self.previewShown(false);
            self.preview([]);
            self.serverDataMessage("");
            self.serverDataView(undefined);
        };

        self.loadStatus = function () {
            return client().status().done(self.status);
        };

        self.togglePreview = function () {
            if (self.previewShown()) {
                self.previewShown(false);
                return;
            }
            self.loadPreview().done(function () {
                self.previewShown(true);
            });
        };

        self.loadPreview = function () {
            return client()
                .preview()
                .done(function (response) {
                    self.preview(
                        _.map(response.preview, function (report) {
                            return {
                                report: report.report,
                                method: report.method,
                                description: translateMeaning(report.description),
                                sample: report.sample,
                                sent: report.sent,
                                rows: _.map(
                                    _.extend({}, report.fields, report.declined),
                                    function (value, field) {
                                        return {
                                            field: field,
                                            value: value,
                                            declined: _.has(report.declined, field),
                                            meaning: translateMeaning(
                                                report.meanings[field],
                                                _.contains(report.on_off, field)
                                            )
                                        };
                                    }
                                )
                            };
                        })
                    );
                })
                .fail(function () {
                    notifyError(gettext("The preview could not be loaded."));
                });
        };

        // The file holds the API's answer unchanged: exactly what would be sent.
        self.downloadPreview = function () {
            client()
                .preview()
                .done(function (response) {
                    const blob = new Blob([JSON.stringify(response.preview, null, 2)], {
                        type: "application/json"
                    });
                    const link = document.createElement("a");
                    link.href = URL.createObjectURL(blob);
                    link.download = "usage-tracking-preview.json";
                    document.body.appendChild(link);
                    link.click();
                    document.body.removeChild(link);
                    setTimeout(function () {
                        URL.revokeObjectURL(link.href);
                    }, 0);
                })
                .fail(function () {
                    notifyError(gettext("The preview could not be loaded."));
                });
        };

        const OUTCOMES = {
            delivered: gettext("delivered"),
            rejected: gettext("rejected by the server"),
            expired: gettext("expired before it could be sent"),
            confirmed: gettext("confirmed by the server"),
            unsupported: gettext("the server does not offer this")
        };

        self.loadJournal = function () {
            return client()
                .journal()
                .done(function (response) {
                    self.journal(
                        _.map(response.journal.slice().reverse(), function (entry) {
                            return {
                                when: new Date(entry.time * 1000).toLocaleString(),
                                report: reportName(entry.report),
                                fieldsText: _.map(entry.fields, function (v, k) {
                                    return k + "=" + v;
                                }).join(", "),
                                delivered: _.contains(
                                    ["delivered", "confirmed"],
                                    entry.outcome
                                ),
                                outcome:
                                    (OUTCOMES[entry.outcome] || entry.outcome) +
                                    (entry.status ? " (HTTP " + entry.status + ")" : "")
                            };
                        })
                    );
                });
        };

        // Only on the owner's click: the server is never asked on page load.
        self.askServer = function () {
            self.serverDataAsking(true);
            self.serverDataView(undefined);
            self.serverDataMessage("");
            client()
                .serverData()
                .done(function (result) {
                    const ok = result.state === "ok" && _.isObject(result.data);
                    // Not an answer to show, and worth trying again later.
                    self.serverDataProblem(
                        !_.contains(["ok", "unknown", "unsupported", "off"], result.state)
                    );
                    self.serverDataMessage(serverDataMessage(result));
                    self.serverDataView(ok ? serverDataView(result.data) : undefined);
                })
                .fail(function () {
                    self.serverDataProblem(true);
                    self.serverDataMessage(
                        gettext("OctoPrint could not ask the tracking server.")
                    );
                })
                .always(function () {
                    self.serverDataAsking(false);
                });
        };

        self.resetId = function () {
            showConfirmationDialog({
                message: gettext(
                    "A new instance ID will be made. Nothing more is sent under the old one."
                ),
                onproceed: function () {
                    client()
                        .resetId()
                        .done(function () {
                            self.settingsViewModel.requestData();
                            self.loadStatus();
                        })
                        .fail(function () {
                            notifyError(gettext("The instance ID could not be reset."));
                        });
                }
            });
        };
    }

    OCTOPRINT_VIEWMODELS.push({
        construct: UsageTrackingWizardViewModel,
        dependencies: ["settingsViewModel"],
        elements: ["#wizard_plugin_usage_tracking"]
    });

    OCTOPRINT_VIEWMODELS.push({
        construct: UsageTrackingSettingsViewModel,
        dependencies: ["settingsViewModel", "loginStateViewModel"],
        elements: ["#settings_plugin_usage_tracking"]
    });
});
