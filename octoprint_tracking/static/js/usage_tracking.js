/*
 * View models of Anonymous Usage Tracking: the first-run wizard and the settings pane.
 */
$(function () {
    function client() {
        return OctoPrint.plugins.usage_tracking;
    }

    function UsageTrackingWizardViewModel(parameters) {
        const self = this;
        self.settingsViewModel = parameters[0];

        self.active = ko.observable(false);
        self.decision = ko.observable();
        self.accepted = ko.observable(0);
        self.upgrade = ko.observable(false);
        self.decided = ko.observable(false);
        self.required = false;

        self.isNew = function (since) {
            return since > self.accepted();
        };

        self.onWizardDetails = function (response) {
            const details = response && response.usage_tracking;
            self.required = !!(details && details.required);
            const accepted = (details && details.details && details.details.accepted) || 0;
            self.accepted(accepted);
            self.upgrade(
                !!(details && details.details && details.details.enabled && accepted > 0)
            );
        };

        self._decide = function (call, decision) {
            self.active(true);
            return call()
                .done(function () {
                    self.decision(decision);
                    self.decided(true);
                })
                .fail(function () {
                    new PNotify({
                        title: gettext("Something went wrong"),
                        text: gettext(
                            "Your decision on anonymous usage tracking could not be saved."
                        ),
                        type: "error",
                        hide: false
                    });
                })
                .always(function () {
                    self.active(false);
                });
        };

        self.enable = function () {
            self._decide(function () {
                return client().decide(true);
            }, true);
        };
        self.accept = self.enable;

        self.disable = function () {
            self._decide(function () {
                return client().decide(false);
            }, false);
        };

        self.decline = function () {
            self._decide(function () {
                return client().declineUpdate();
            }, true);
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
        self.journal = ko.observableArray([]);

        self.lastProblem = ko.pureComputed(function () {
            const status = self.status();
            const problem = status && status.delivery && status.delivery.last_problem;
            if (!problem) return "";
            return (
                problem.report +
                " (" +
                (problem.status ? "HTTP " + problem.status : gettext("no answer")) +
                ")"
            );
        });

        self.previewRows = ko.pureComputed(function () {
            const rows = [];
            _.each(self.preview(), function (report) {
                _.each(report.fields, function (value, field) {
                    rows.push({
                        report: report.report,
                        field: field,
                        value: value,
                        sent: report.sent
                    });
                });
            });
            return rows;
        });

        self.onBeforeBinding = function () {
            self.settings = self.settingsViewModel.settings.plugins.usage_tracking;
        };

        self.onStartupComplete = function () {
            const browser = OctoPrint.coreui.browser || {};
            client().track("webui_load", {
                browser_name: browser.browser_name,
                browser_version: browser.browser_version,
                os_name: browser.os_name,
                os_version: browser.os_version
            });
        };

        self.onSettingsShown = function () {
            self.loadStatus();
            self.loadJournal();
        };

        self.onSettingsHidden = function () {
            self.preview([]);
        };

        self.loadStatus = function () {
            return client().status().done(self.status);
        };

        self.loadPreview = function () {
            return client()
                .preview()
                .done(function (response) {
                    self.preview(response.preview);
                });
        };

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
                });
        };

        self.loadJournal = function () {
            return client()
                .journal()
                .done(function (response) {
                    self.journal(
                        _.map(response.journal.slice().reverse(), function (entry) {
                            return {
                                when: new Date(entry.time * 1000).toLocaleString(),
                                report: entry.report,
                                fieldsText: _.map(entry.fields, function (v, k) {
                                    return k + "=" + v;
                                }).join(", "),
                                outcome:
                                    entry.outcome +
                                    (entry.status ? " (" + entry.status + ")" : "")
                            };
                        })
                    );
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
